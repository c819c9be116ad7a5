-- A regulator key may be limited to the offices of one province (a provincial inspectorate's systems), as a
-- provincial inspector is; NULL: every province.
ALTER TABLE api_keys
    ADD COLUMN province text,
    ADD CONSTRAINT api_keys_province_is_regulator CHECK (province IS NULL OR role = 'regulator');
