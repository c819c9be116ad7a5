-- Voids: undoing a completed charge by a PSP reversal within the PSP's reversal window, with a signed cancellation
-- receipt in the office's chain. Same money-safety rules as a charge: the void is stored before the reversal is
-- sent, an unclear answer is resolved by the recovery worker by inquiry, and every write about a pending void is
-- fenced by its claim epoch.
CREATE TABLE voids (
    id                 uuid PRIMARY KEY,
    charge_id          uuid NOT NULL UNIQUE REFERENCES charges (id),
    office_id          text NOT NULL,
    psp_id             text NOT NULL,
    amount             bigint NOT NULL CHECK (amount > 0),
    reason             text NOT NULL,
    reason_text        text NOT NULL,
    requested_by       text NOT NULL,  -- the API key that asked for it
    status             text NOT NULL CHECK (status IN ('requested', 'sent', 'reversed', 'refused')),
    response_code      text,
    last_psp_note      text,
    window_closes_at   timestamptz NOT NULL,
    claim_epoch        integer NOT NULL DEFAULT 0,
    recovery_attempts  integer NOT NULL DEFAULT 0,
    next_recovery_at   timestamptz,
    tracking_code      text UNIQUE,  -- of the cancellation receipt, once reversed
    created_at         timestamptz NOT NULL,
    finalized_at       timestamptz
);
CREATE INDEX voids_recovery_due ON voids (next_recovery_at) WHERE status IN ('requested', 'sent');
CREATE INDEX voids_office_created ON voids (office_id, created_at);

ALTER TABLE idempotency_keys ADD COLUMN void_id uuid;

-- A charge has its receipt and, once voided, its cancellation receipt: both in the office's one chain.
ALTER TABLE receipts ADD COLUMN kind text NOT NULL DEFAULT 'charge' CHECK (kind IN ('charge', 'cancellation'));
ALTER TABLE receipts DROP CONSTRAINT receipts_charge_id_key;
CREATE UNIQUE INDEX receipts_charge_kind ON receipts (charge_id, kind);

-- Likewise a charge's messages: the receipt's SMS and Iran Poosheh delivery, and the cancellation's.
ALTER TABLE outbox ADD COLUMN purpose text NOT NULL DEFAULT 'receipt' CHECK (purpose IN ('receipt', 'cancellation'));
ALTER TABLE outbox DROP CONSTRAINT outbox_charge_id_channel_key;
CREATE UNIQUE INDEX outbox_charge_channel_purpose ON outbox (charge_id, channel, purpose);
