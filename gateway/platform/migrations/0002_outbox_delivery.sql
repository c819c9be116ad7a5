-- Delivery of outbox messages: the provider's id for an accepted message, and the delivery reports polled for it.
--
-- status is the row's life: pending (waiting to be sent) -> sent (the provider accepted it) -> delivered |
-- undelivered | failed (the provider's final report). A permanent refusal goes straight to failed; a message still
-- not accepted after the attempt limit goes to dead (the dead letter). delivery_status is the provider's latest
-- report (queued, sent, delivered, undelivered, failed) and delivery_status_at when it was received.

ALTER TABLE outbox
    ADD COLUMN provider_message_id  text,
    ADD COLUMN sent_at              timestamptz,
    ADD COLUMN delivery_status      text CHECK (delivery_status IN ('queued', 'sent', 'delivered', 'undelivered',
                                                                    'failed')),
    ADD COLUMN delivery_status_at   timestamptz,
    -- When to ask the provider for a delivery report next; NULL when no report is awaited.
    ADD COLUMN next_poll_at         timestamptz;

-- Sending and polling are claimed separately, each through its own small partial index.
DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_awaiting_report ON outbox (next_poll_at) WHERE next_poll_at IS NOT NULL;
