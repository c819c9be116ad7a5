-- PSP daily files (settlement files and terminal transaction feeds), the settlement rows they carry, and the
-- terminal transactions that no gateway charge accounts for. File formats: docs/reconciliation.md.

-- One row per imported file. The digest of its bytes makes a re-import of the same file a no-op.
CREATE TABLE psp_files (
    id           bigserial PRIMARY KEY,
    psp_id       text NOT NULL REFERENCES psps (id),
    kind         text NOT NULL CHECK (kind IN ('settlement', 'terminal_feed')),
    digest       text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    rows         integer NOT NULL CHECK (rows >= 0),
    bytes        bigint NOT NULL CHECK (bytes >= 0),
    source       text NOT NULL,
    imported_by  text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (psp_id, digest)
);

-- What the PSPs say they settled, one row per settlement row (a split payment has several).
-- Rows are written only by the importer, in the transaction that records their file, so file_id needs no
-- foreign key (which would cost a trigger per row on million-row files). office_id comes from the terminal.
CREATE TABLE psp_settlement_rows (
    file_id           bigint NOT NULL,
    line              integer NOT NULL,
    psp_id            text NOT NULL,
    settlement_date   date NOT NULL,
    iban              text NOT NULL,
    amount            bigint NOT NULL CHECK (amount > 0),
    payment_id        text NOT NULL,
    rrn               text NOT NULL,
    stan              text NOT NULL,
    terminal_id       text NOT NULL,
    office_id         text,
    transaction_time  timestamptz NOT NULL,
    reference         text,
    PRIMARY KEY (file_id, line)
);
CREATE INDEX psp_settlement_rows_time ON psp_settlement_rows (transaction_time);

-- Money taken on a terminal with no gateway charge behind it (the office used the card reader outside the
-- gateway), from the PSPs' terminal feeds. Read by the regulator's excess-fee detection.
CREATE TABLE offbook_transactions (
    id              bigserial PRIMARY KEY,
    office_id       text,
    terminal_id     text NOT NULL,
    merchant_id     text NOT NULL,
    psp_id          text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    rrn             text NOT NULL,
    stan            text NOT NULL,
    transacted_at   timestamptz NOT NULL,
    business_date   date NOT NULL,
    status          text NOT NULL,
    masked_pan      text CHECK (masked_pan IS NULL OR masked_pan !~ '[0-9]{11,}'),
    source_file_id  bigint NOT NULL REFERENCES psp_files (id),
    source_line     integer NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (psp_id, terminal_id, rrn, stan)
);
CREATE INDEX offbook_transactions_office_time ON offbook_transactions (office_id, transacted_at);

-- Agency statements and reconciliation read a day of completed charges in (completed_at, id) order.
CREATE INDEX charges_completed ON charges (completed_at, id) WHERE status = 'completed';
