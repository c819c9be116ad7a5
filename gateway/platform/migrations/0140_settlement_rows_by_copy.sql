-- A settlement file's rows are COPYed straight into psp_settlement_rows as the file streams in. The office of a
-- row's terminal is read from the registry when the report needs it (only rows no charge accounts for need it),
-- so nothing has to be joined while the rows arrive.
ALTER TABLE psp_settlement_rows DROP COLUMN office_id;
