-- The registry, tariffs, API keys, charges, refusals, receipts and the outbox.
-- Every table that grows carries office_id, so the data can be sharded by office.

CREATE TABLE psps (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    cb_licence_number   text NOT NULL,
    licence_valid_from  date NOT NULL,
    licence_valid_to    date NOT NULL,
    protocol            text NOT NULL,
    endpoint            jsonb NOT NULL,
    capabilities        jsonb NOT NULL
);

CREATE TABLE agencies (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    iban        text NOT NULL,
    payment_id  text NOT NULL
);

CREATE TABLE services (
    code       text PRIMARY KEY,
    name       text NOT NULL,
    agency_id  text NOT NULL REFERENCES agencies (id)
);

CREATE TABLE offices (
    id                  text PRIMARY KEY CHECK (id ~ '^[0-9]{8}$'),
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('counter', 'rural_ict')),
    licence_holder      text NOT NULL,
    licence_number      text NOT NULL,
    licence_valid_from  date NOT NULL,
    licence_valid_to    date NOT NULL,
    status              text NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    address             text NOT NULL,
    province            text NOT NULL,
    city                text NOT NULL,
    city_class          text NOT NULL CHECK (city_class IN ('metropolis', 'province_centre', 'city_over_50k', 'city', 'village')),
    iban                text NOT NULL,
    sms_line            text NOT NULL
);

CREATE TABLE office_services (
    office_id     text NOT NULL REFERENCES offices (id),
    service_code  text NOT NULL REFERENCES services (code),
    PRIMARY KEY (office_id, service_code)
);

CREATE TABLE operators (
    id         text PRIMARY KEY,
    office_id  text NOT NULL REFERENCES offices (id),
    name       text NOT NULL,
    active     boolean NOT NULL DEFAULT true
);

CREATE TABLE terminals (
    terminal_id  text PRIMARY KEY,
    merchant_id  text NOT NULL,
    office_id    text NOT NULL REFERENCES offices (id),
    psp_id       text NOT NULL REFERENCES psps (id)
);

CREATE TABLE registry_loads (
    version    bigserial PRIMARY KEY,
    digest     text NOT NULL,
    source     text NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tariff_approvals (
    reference    text PRIMARY KEY,
    source_file  text NOT NULL,
    document     jsonb NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id                 text PRIMARY KEY,
    key_hash           bytea NOT NULL UNIQUE,
    role               text NOT NULL CHECK (role IN ('terminal', 'agency', 'regulator', 'admin')),
    terminal_id        text REFERENCES terminals (terminal_id),
    agency_id          text REFERENCES agencies (id),
    label              text NOT NULL DEFAULT '',
    require_signature  boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz,
    CHECK ((role = 'terminal') = (terminal_id IS NOT NULL)),
    CHECK ((role = 'agency') = (agency_id IS NOT NULL))
);

CREATE SEQUENCE charge_stan_seq;

CREATE TABLE charges (
    id                       uuid PRIMARY KEY,
    office_id                text NOT NULL,
    terminal_id              text NOT NULL,
    merchant_id              text NOT NULL,
    psp_id                   text NOT NULL,
    operator_id              text NOT NULL,
    service_code             text NOT NULL,
    quantity                 integer NOT NULL CHECK (quantity > 0),
    extras                   jsonb NOT NULL,
    recipient_name           text NOT NULL,
    recipient_national_code  text NOT NULL,
    recipient_mobile         text NOT NULL,
    amount                   bigint NOT NULL CHECK (amount > 0),
    breakdown                jsonb NOT NULL,
    tariff_reference         text NOT NULL,
    settlement_rows          jsonb NOT NULL,
    status                   text NOT NULL CHECK (status IN ('created', 'sent', 'authorized', 'verified', 'completed',
                                                            'declined', 'cancelled', 'expired', 'reversed', 'failed')),
    stan                     text NOT NULL DEFAULT lpad(((nextval('charge_stan_seq') % 999999) + 1)::text, 6, '0'),
    rrn                      text,
    auth_code                text,
    masked_pan               text,
    decline_code             text,
    tracking_code            text UNIQUE,
    verify_deadline          timestamptz NOT NULL,
    next_recovery_at         timestamptz,
    recovery_attempts        integer NOT NULL DEFAULT 0,
    last_psp_note            text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    authorized_at            timestamptz,
    verified_at              timestamptz,
    settled_at               timestamptz,
    completed_at             timestamptz,
    finalized_at             timestamptz,
    CHECK (masked_pan IS NULL OR masked_pan !~ '[0-9]{11,}')
);
CREATE INDEX charges_pending ON charges (next_recovery_at)
    WHERE status IN ('created', 'sent', 'authorized', 'verified');
CREATE INDEX charges_office_created ON charges (office_id, created_at);
CREATE INDEX charges_psp_rrn ON charges (psp_id, rrn) WHERE rrn IS NOT NULL;

-- Stripe-style idempotency: the first request under a key is remembered with its body hash; a replay with the
-- same body gets the first answer (the charge, or the stored refusal), a different body gets 409.
CREATE TABLE idempotency_keys (
    office_id        text NOT NULL,
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    charge_id        uuid,
    response_status  integer,
    response_body    jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (office_id, key)
);

-- Every charge the gateway refused on a rule, with what the regulator needs to judge it.
CREATE TABLE refusals (
    id                       bigserial PRIMARY KEY,
    office_id                text NOT NULL,
    terminal_id              text NOT NULL,
    operator_id              text,
    service_code             text,
    reason                   text NOT NULL,
    requested                bigint,
    cap                      bigint,
    excess                   bigint,
    payment_method           text,
    recipient_national_code  text,
    tariff_reference         text,
    details                  jsonb NOT NULL DEFAULT '{}',
    created_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refusals_office_created ON refusals (office_id, created_at);

CREATE TABLE receipt_chain_heads (
    office_id  text PRIMARY KEY,
    last_seq   bigint NOT NULL,
    last_hash  text NOT NULL
);

CREATE TABLE receipts (
    office_id      text NOT NULL,
    seq            bigint NOT NULL CHECK (seq > 0),
    tracking_code  text NOT NULL UNIQUE,
    charge_id      uuid NOT NULL UNIQUE,
    issued_at      timestamptz NOT NULL,
    key_id         text NOT NULL,
    hash           text NOT NULL,
    prev_hash      text NOT NULL,
    signed         jsonb NOT NULL,
    PRIMARY KEY (office_id, seq)
);

-- Messages to deliver after a charge completes (SMS, Iran Poosheh), written in the completing statement.
CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    office_id        text NOT NULL,
    charge_id        uuid NOT NULL,
    channel          text NOT NULL CHECK (channel IN ('sms', 'poosheh')),
    message_id       text NOT NULL UNIQUE,
    recipient        text NOT NULL,
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'delivered', 'undelivered', 'failed', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_until    timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (charge_id, channel)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sent');

-- Raising from inside a data-modifying statement undoes the whole statement: used to make a multi-table
-- completion all-or-nothing in one round trip.
CREATE FUNCTION pishkhan_abort(reason text) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'PK001', MESSAGE = reason;
END $$;
