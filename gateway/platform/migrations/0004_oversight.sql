-- Regulator oversight: findings against offices (violations), the detection runs that produced them, and the log
-- of every regulator query. Design and query plans: docs/oversight.md.

-- One row per finding. evidence_key names the evidence (a refusal, a charge that took money over one cap, a
-- terminal-feed row), so detection can run again over the same data without duplicating anything.
CREATE TABLE violations (
    id            bigserial PRIMARY KEY,
    office_id     text NOT NULL,
    type          text NOT NULL CHECK (type IN ('excess_fee', 'cash_payment', 'unlicensed_psp', 'inactive_licence',
                                                'split_charging', 'offbook_transaction')),
    evidence_key  text NOT NULL,
    evidence      jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL,
    terminal_id   text,
    operator_id   text,
    service_code  text,
    amount        bigint,            -- rials asked or taken
    excess        bigint,            -- rials over the approved cap; NULL where no cap applies
    detected_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (office_id, evidence_key)
);
-- Listing, the excess-fee summary and a scorecard's period read one office's findings in time order; across
-- all offices, a short time range is read by occurred_at (whichever costs less: probing each office or sorting
-- the range, never the whole table).
CREATE INDEX violations_office_occurred ON violations (office_id, occurred_at, id);
CREATE INDEX violations_occurred ON violations (occurred_at);
-- A scorecard asks, per earlier six-month period and type, whether the office had any such finding at all.
CREATE INDEX violations_office_type_occurred ON violations (office_id, type, occurred_at);

-- Each detection pass over [scanned_from, scanned_to); the latest scanned_to is how far the findings reach.
CREATE TABLE oversight_detection_runs (
    id            bigserial PRIMARY KEY,
    scanned_from  timestamptz NOT NULL,
    scanned_to    timestamptz NOT NULL CHECK (scanned_to > scanned_from),
    found         jsonb NOT NULL,    -- new findings by type
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oversight_detection_runs_reach ON oversight_detection_runs (scanned_to);

-- Who (API key id) asked what (method, path and query string) and when, for every regulator query.
CREATE TABLE regulator_access_log (
    id        bigserial PRIMARY KEY,
    key_id    text NOT NULL,
    method    text NOT NULL,
    path      text NOT NULL,
    query     text NOT NULL,
    status    integer NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX regulator_access_log_key_at ON regulator_access_log (key_id, at);

-- Detection reads the refusals and the off-book feed rows recorded since its last pass (every few seconds).
CREATE INDEX refusals_created ON refusals (created_at);
CREATE INDEX offbook_transactions_recorded ON offbook_transactions (recorded_at);
