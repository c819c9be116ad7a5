-- One classified row of a reconciliation report, as gateway/reconciliation/store.py writes it (_CLASSIFIED): the
-- day's report groups the paired rows that did not match by this row. A type of the schema, where the report once
-- used a temporary table's, so that the report is a read and nothing else, and runs on a streaming replica (a hot
-- standby creates no tables, not even temporary ones).
CREATE TYPE reconciliation_row AS (
    kind              text,
    psp_id            text,
    agency_id         text,
    office_id         text,
    terminal_id       text,
    rrn               text,
    stan              text,
    payment_id        text,
    charge_id         uuid,
    charge_status     text,
    tracking_code     text,
    expected_iban     text,
    settled_iban      text,
    collected         bigint,
    settled           bigint,
    returned          bigint,
    completed_at      timestamptz,
    transaction_time  timestamptz,
    settlement_date   date,
    file_id           bigint,
    line              integer
);
