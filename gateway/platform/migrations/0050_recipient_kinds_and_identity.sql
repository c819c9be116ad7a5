-- Every kind of recipient (gateway/core/recipients.py): an individual, a legal person or a foreign national.
-- `recipient_national_code` keeps its name and holds the identifier of the recipient's kind: a national code,
-- a legal person's national ID, a foreign national identifier, or `<nationality>:<passport number>`. No two kinds'
-- identifiers can be equal, so split-charging detection (index charges_split_lookup) keys on it unchanged.
ALTER TABLE charges ADD COLUMN recipient_kind text NOT NULL DEFAULT 'individual'
    CHECK (recipient_kind IN ('individual', 'legal_person', 'foreign_national'));
ALTER TABLE refusals ADD COLUMN recipient_kind text
    CHECK (recipient_kind IN ('individual', 'legal_person', 'foreign_national'));

-- The identity inquiry made before the card was pushed (docs/identity.md): its verdict, each service's verdict
-- and track id, and when it was made. Never the birth date, never the registered name.
ALTER TABLE charges ADD COLUMN identity_check jsonb;

-- Each service's identity policy (gateway/core/identity.py), loaded from the registry file.
ALTER TABLE services ADD COLUMN identity_policy text NOT NULL DEFAULT 'off'
    CHECK (identity_policy IN ('required', 'advisory', 'off'));

-- A refusal for an identity mismatch is a finding against the office (letter 100/15131 item 8).
ALTER TABLE violations DROP CONSTRAINT violations_type_check;
ALTER TABLE violations ADD CONSTRAINT violations_type_check
    CHECK (type IN ('excess_fee', 'cash_payment', 'unlicensed_psp', 'inactive_licence', 'identity_mismatch',
                    'split_charging', 'offbook_transaction'));
