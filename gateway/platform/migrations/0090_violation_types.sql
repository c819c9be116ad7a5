-- Every finding type of gateway/oversight/catalog.py: identity mismatches and the void findings, each added by its own
-- migration over the list of its day, are allowed together.
ALTER TABLE violations DROP CONSTRAINT violations_type_check;
ALTER TABLE violations ADD CONSTRAINT violations_type_check
    CHECK (type IN ('excess_fee', 'cash_payment', 'unlicensed_psp', 'inactive_licence', 'identity_mismatch',
                    'split_charging', 'offbook_transaction', 'void_then_recharge', 'void_rate'));
