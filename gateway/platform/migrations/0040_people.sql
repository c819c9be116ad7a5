-- People who sign in to the pages (inspectors, office managers, agency staff, counter operators), and the access
-- log's entries made by people: every sign-in attempt and every page or export a person opened.
-- Design: docs/security.md ("People and sign-in").

-- Scope columns by role: a regulator has a province (a provincial inspector) or none (national); an office
-- manager has an office; an agency user an agency; an operator an office and one of its operators.
-- The registry is reloaded by upsert and checked when a person is created, so these columns carry no foreign keys.
CREATE TABLE people (
    username          text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    display_name      text NOT NULL DEFAULT '',
    role              text NOT NULL CHECK (role IN ('regulator', 'office', 'agency', 'operator')),
    province          text,
    office_id         text,
    agency_id         text,
    operator_id       text,
    password_hash     text NOT NULL,     -- argon2id, with its parameters, as argon2-cffi writes it
    totp_secret       text NOT NULL,     -- base32; the second factor is verified against it
    totp_last_step    bigint NOT NULL DEFAULT 0,  -- the last accepted 30-second step: a code is good once
    failed_attempts   integer NOT NULL DEFAULT 0,
    locked_until      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz,
    CHECK (province IS NULL OR role = 'regulator'),
    CHECK ((office_id IS NOT NULL) = (role IN ('office', 'operator'))),
    CHECK ((agency_id IS NOT NULL) = (role = 'agency')),
    CHECK ((operator_id IS NOT NULL) = (role = 'operator'))
);

-- A person's entries in the access log: key_id is for API keys, username for people; `event` names what a
-- sign-in attempt came to (signin.succeeded, signin.password_failed, signin.code_failed, signin.locked, signout)
-- and is NULL for an ordinary page or export.
ALTER TABLE regulator_access_log
    ALTER COLUMN key_id DROP NOT NULL,
    ADD COLUMN username text,
    ADD COLUMN event text,
    ADD CONSTRAINT regulator_access_log_who CHECK (key_id IS NOT NULL OR username IS NOT NULL);
CREATE INDEX regulator_access_log_username_at ON regulator_access_log (username, at) WHERE username IS NOT NULL;
