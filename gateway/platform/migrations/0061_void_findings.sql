-- Oversight findings about voids: an office that voids and charges the same recipient for the same service again,
-- and an office whose voids stand out against its charges on a day.
ALTER TABLE violations DROP CONSTRAINT violations_type_check;
ALTER TABLE violations ADD CONSTRAINT violations_type_check
    CHECK (type IN ('excess_fee', 'cash_payment', 'unlicensed_psp', 'inactive_licence', 'split_charging',
                    'offbook_transaction', 'void_then_recharge', 'void_rate'));
-- Void findings and the regulator's list of voids read voids by when they were finished.
CREATE INDEX voids_finalized ON voids (finalized_at) WHERE status = 'reversed';
