-- Money safety: fencing of the actors that act on a pending charge, and the separate settle step.

-- Every recovery claim increments the epoch; a write about a pending charge applies only under the epoch its
-- writer read, so an actor that overran its lease (a slow hot path, a stalled worker) can no longer change it.
ALTER TABLE charges ADD COLUMN claim_epoch integer NOT NULL DEFAULT 0;

-- For PSPs whose settle is a separate call: when the settlement worker should next try it (NULL once settled,
-- and for PSPs that settle by themselves). Set only by the completing statement, so nothing is settled without
-- a receipt.
ALTER TABLE charges ADD COLUMN next_settle_at timestamptz;
ALTER TABLE charges ADD COLUMN settle_attempts integer NOT NULL DEFAULT 0;
CREATE INDEX charges_settle_due ON charges (next_settle_at) WHERE next_settle_at IS NOT NULL;
