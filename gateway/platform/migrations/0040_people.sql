-- People who sign in to the pages (inspectors, office managers, agency staff, counter operators). Their sign-in
-- attempts and the pages they open go to the chained access log as key `person:<username>`.
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
