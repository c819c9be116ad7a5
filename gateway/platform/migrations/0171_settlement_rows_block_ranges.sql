-- A settlement file's rows are written once, by the import that COPYs the file, one file after another: each file's
-- rows lie together in the table, and a file holds the transactions of about a day. So both ways the rows are found,
-- by file (the refunds a file takes back) and by transaction time (the report's day), need no more than each block
-- range's smallest and largest file and time: a BRIN index, which a COPY keeps at next to no cost, where the two
-- B-tree indexes it replaces (the primary key on file and line, the index on transaction time) took about as long
-- to fill as the COPY itself. Ranges filled since the last vacuum are summarised by autovacuum (autosummarize);
-- until then a search reads them whole, which it would do anyway for the file just imported.
-- (file_id, line) stays unique without a constraint: the importer alone writes these rows, the file's id is drawn
-- by the import that writes them, and the line is the line's number in the file.
ALTER TABLE psp_settlement_rows DROP CONSTRAINT psp_settlement_rows_pkey;
DROP INDEX psp_settlement_rows_time;
CREATE INDEX psp_settlement_rows_file_time ON psp_settlement_rows USING brin (file_id, transaction_time)
    WITH (autosummarize = on);
