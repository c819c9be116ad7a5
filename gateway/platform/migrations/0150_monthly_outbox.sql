-- The outbox partitioned by month too (the functions of 0100), by created_at: the moment the message was written,
-- which is the charge's completion (or the void's or refund's cancellation) for a charge's messages, and the moment
-- of the notice or complaint otherwise. The dispatcher and the delivery-report poller carry each claimed message's
-- created_at and name it in every write, so those writes read one month. Design and why this key:
-- docs/scaling.md ("Time-partitioned tables").
--
-- Keys afterwards: PRIMARY KEY (id, created_at), UNIQUE (charge_id, channel, purpose, created_at). A charge's
-- messages of one purpose are written once, with one created_at, by the statement that moves the charge (or its void
-- or refund) out of a pending status, so the key is unique across months too.
--
-- The unique index on message_id goes: no statement reads by it, and every message id is already unique through
-- (charge_id, channel, purpose): a charge's messages are named from those three (sms-void-<charge id>), a
-- complaint's SMS has the charge_id made from its message id. Only a notice to an office (no charge) is outside
-- that index, and its id names the first finding of the batch it is the only notice of. Each outbox row then costs
-- three index insertions in the completion statement, not four.
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;
SELECT pishkhan_partition_by_month('outbox', 'created_at', 3);
