-- The separate settle call's schedule moves out of charges into a small table of its own. A row is written by the
-- statement that completes a charge of a PSP whose settle is a call of its own (so nothing is settled without a
-- receipt), leased by each claim, and deleted when the PSP approves the call (the charge then gets its settled_at)
-- or when a void reverses the charge; the table holds only the settle calls still to make.
--
-- Before, the claim's lease and the result were two more updates of the charge, each a new row version entering
-- every index of charges again (the settle columns were indexed, in charges_settle_due). Now the claim writes the
-- small table, and the result is the charge's settled_at alone, a column no index of charges holds, so PostgreSQL
-- may make it a HOT update. docs/performance.md ("The settle schedule out of charges") has the figures.
--
-- No foreign key to charges: its check would cost every such completion a look-up of the charge it has just
-- updated, and the one statement that writes a row takes the charge id from that update.
CREATE TABLE settle_calls (
    charge_id uuid PRIMARY KEY,
    next_at   timestamptz NOT NULL,  -- when the call is due; while a worker holds it, the end of the worker's lease
    attempts  integer NOT NULL DEFAULT 0,  -- calls made so far without an approval: the backoff's step
    last_note text  -- why the last call was not approved
);
CREATE INDEX settle_calls_due ON settle_calls (next_at);

-- Settle calls still to make (or leased by a worker of the gateway before the upgrade: due when the lease ends).
INSERT INTO settle_calls (charge_id, next_at, attempts, last_note)
SELECT id, next_settle_at, settle_attempts, CASE WHEN settle_attempts > 0 THEN last_psp_note END
FROM charges
WHERE next_settle_at IS NOT NULL;

DROP INDEX charges_settle_due;
ALTER TABLE charges DROP COLUMN next_settle_at, DROP COLUMN settle_attempts;
