-- A PSP settlement row that repeats the references (PSP, terminal, RRN, STAN, payment identifier) of a row one
-- report could read beside it is extra: only the first pairs with the gateway's row. Which rows repeat is decided
-- once, when their file is imported (gateway/reconciliation/store.py, keep_repeats), and kept here, so that a day's
-- report need not sort the PSP's rows by reference to number the repeats: with that sort the report's statement
-- could not run in parallel, and it took two to three times as long.
-- A repeat is a row after another with the same references, in the same file or in a file imported before, less
-- than 49 hours from it by transaction time (REPEAT_SPAN in gateway/reconciliation/report.py: the longest stretch
-- of transaction times one report reads). The importer takes its PSP's turn before drawing the file's id, so a
-- PSP's file ids follow the order in which its files are kept.
CREATE TABLE psp_settlement_repeats (
    file_id  bigint NOT NULL,
    line     integer NOT NULL,
    PRIMARY KEY (file_id, line)
);

INSERT INTO psp_settlement_repeats (file_id, line)
SELECT n.file_id, n.line
FROM psp_settlement_rows n
WHERE EXISTS (SELECT 1 FROM psp_settlement_rows o
              WHERE o.psp_id = n.psp_id AND o.terminal_id = n.terminal_id AND o.rrn = n.rrn AND o.stan = n.stan
                AND o.payment_id = n.payment_id AND (o.file_id, o.line) < (n.file_id, n.line)
                AND o.transaction_time > n.transaction_time - interval '49 hours'
                AND o.transaction_time < n.transaction_time + interval '49 hours');

-- Each import analyses the table before looking for repeats (the planner would take the new file's rows for a
-- handful): a sample of 3,000 rows, as on the tables every charge grows (migration 0188), is enough for the row
-- counts and the spans of ids and times that the import's and the report's plans depend on.
ALTER TABLE psp_settlement_rows
    ALTER COLUMN file_id SET STATISTICS 10, ALTER COLUMN line SET STATISTICS 10,
    ALTER COLUMN psp_id SET STATISTICS 10, ALTER COLUMN settlement_date SET STATISTICS 10,
    ALTER COLUMN iban SET STATISTICS 10, ALTER COLUMN amount SET STATISTICS 10,
    ALTER COLUMN payment_id SET STATISTICS 10, ALTER COLUMN rrn SET STATISTICS 10,
    ALTER COLUMN stan SET STATISTICS 10, ALTER COLUMN terminal_id SET STATISTICS 10,
    ALTER COLUMN transaction_time SET STATISTICS 10, ALTER COLUMN reference SET STATISTICS 10;
