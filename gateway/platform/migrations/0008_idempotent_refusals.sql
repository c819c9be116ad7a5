-- A refusal remembered under its Idempotency-Key is its error body alone: the HTTP status of each error code is the
-- web edge's to decide (gateway/web/errors.py), not the database's.
ALTER TABLE idempotency_keys DROP COLUMN response_status;
