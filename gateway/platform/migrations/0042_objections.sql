-- An office's objections to findings: the notice (an SMS to the office's manager and a line on the office's page),
-- the objection within seven days (text and attachments), the regulator's decision, and the append-only history of
-- every step. An upheld objection sets the finding aside: it leaves the scorecard and the penalty arithmetic.

ALTER TABLE people ADD COLUMN mobile text CHECK (mobile ~ '^09[0-9]{9}$');

-- A notice to an office's manager is an SMS of no charge.
ALTER TABLE outbox ALTER COLUMN charge_id DROP NOT NULL;

ALTER TABLE violations
    ADD COLUMN notified_at timestamptz,
    ADD COLUMN set_aside_at timestamptz;
-- Findings recorded before objections existed count as notified when detected (no burst of old notices).
UPDATE violations SET notified_at = detected_at;
CREATE INDEX violations_unnotified ON violations (id) WHERE notified_at IS NULL;

CREATE TABLE objections (
    id               bigserial PRIMARY KEY,
    violation_id     bigint NOT NULL UNIQUE REFERENCES violations (id),
    office_id        text NOT NULL,
    text             text NOT NULL,
    filed_by         text NOT NULL,
    filed_at         timestamptz NOT NULL,
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'upheld', 'rejected')),
    decided_by       text,
    decided_at       timestamptz,
    decision_reason  text,
    CHECK ((state = 'open') = (decided_at IS NULL))
);
CREATE INDEX objections_office ON objections (office_id, filed_at);
CREATE INDEX objections_open ON objections (filed_at) WHERE state = 'open';

CREATE TABLE objection_attachments (
    id            bigserial PRIMARY KEY,
    objection_id  bigint NOT NULL REFERENCES objections (id),
    filename      text NOT NULL,
    media_type    text NOT NULL CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    size          integer NOT NULL,
    sha256        text NOT NULL,
    content       bytea NOT NULL
);
CREATE INDEX objection_attachments_objection ON objection_attachments (objection_id);

CREATE TABLE objection_history (
    id            bigserial PRIMARY KEY,
    violation_id  bigint NOT NULL REFERENCES violations (id),
    office_id     text NOT NULL,
    event         text NOT NULL CHECK (event IN ('notified', 'filed', 'upheld', 'rejected')),
    actor         text NOT NULL,
    note          text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL
);
CREATE INDEX objection_history_violation ON objection_history (violation_id, id);

CREATE FUNCTION pishkhan_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER objection_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON objection_history
    FOR EACH STATEMENT EXECUTE FUNCTION pishkhan_append_only();
