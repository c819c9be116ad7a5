-- A settlement file's rows are appended by the import in one COPY, a file after another, each file's rows with the
-- transaction times of a day or two: both the file id and the transaction time rise with the table. BRIN indexes
-- find a file's rows (refunds settled by the import) and a day's rows (the reconciliation) for almost nothing per
-- row imported, where the two B-trees cost the import about as much as parsing the lines. (file_id, line) stays
-- unique by construction: a file id comes from the sequence once, and the import numbers each of its lines once.
ALTER TABLE psp_settlement_rows DROP CONSTRAINT psp_settlement_rows_pkey;
DROP INDEX psp_settlement_rows_time;
CREATE INDEX psp_settlement_rows_file ON psp_settlement_rows USING brin (file_id) WITH (autosummarize = on);
CREATE INDEX psp_settlement_rows_time ON psp_settlement_rows USING brin (transaction_time)
    WITH (autosummarize = on);
