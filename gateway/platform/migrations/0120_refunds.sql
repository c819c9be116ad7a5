-- Refunds: returning a completed charge's fee through settlement once its PSP no longer reverses it. The refund is
-- stored before its instruction is sent to the PSP, an unclear answer is resolved by the recovery worker (the
-- instruction is idempotent at the PSP), and every write about a pending refund is fenced by its claim epoch. The
-- PSP takes the charge's split settlement rows back in a later settlement file, as negative lines carrying the
-- refund's RRN; the import marks the refund settled when every row is there.
CREATE TABLE refunds (
    id                 uuid PRIMARY KEY,
    charge_id          uuid NOT NULL UNIQUE REFERENCES charges (id),
    office_id          text NOT NULL,
    psp_id             text NOT NULL,
    terminal_id        text NOT NULL,
    stan               text NOT NULL,
    amount             bigint NOT NULL CHECK (amount > 0),
    rows               jsonb NOT NULL,  -- the charge's settlement rows [{iban, amount, payment_id}], taken back whole
    reason             text NOT NULL,
    reason_text        text NOT NULL,
    requested_by       text NOT NULL,  -- the API key that asked for it
    status             text NOT NULL CHECK (status IN ('requested', 'sent', 'instructed', 'settled', 'failed')),
    response_code      text,
    last_psp_note      text,
    rrn                text,  -- the PSP's retrieval number of the refund, once instructed
    claim_epoch        integer NOT NULL DEFAULT 0,
    recovery_attempts  integer NOT NULL DEFAULT 0,
    next_recovery_at   timestamptz,
    tracking_code      text UNIQUE,  -- of the cancellation receipt, once instructed
    created_at         timestamptz NOT NULL,
    instructed_at      timestamptz,
    settled_at         timestamptz,
    settled_file_id    bigint REFERENCES psp_files (id),
    finalized_at       timestamptz
);
CREATE INDEX refunds_recovery_due ON refunds (next_recovery_at) WHERE status IN ('requested', 'sent');
CREATE INDEX refunds_office_created ON refunds (office_id, created_at);
CREATE INDEX refunds_instructed ON refunds (instructed_at) WHERE status IN ('instructed', 'settled');
CREATE INDEX refunds_psp_references ON refunds (psp_id, terminal_id, rrn) WHERE rrn IS NOT NULL;

ALTER TABLE idempotency_keys ADD COLUMN refund_id uuid;

-- A settlement file's refund lines take money back: their amount is negative.
ALTER TABLE psp_settlement_rows DROP CONSTRAINT psp_settlement_rows_amount_check;
ALTER TABLE psp_settlement_rows ADD CONSTRAINT psp_settlement_rows_amount_check CHECK (amount <> 0);
