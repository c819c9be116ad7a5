-- Citizens' complaints about an office, each tied to one receipt. The number is random and unguessable; the text
-- is stored as typed and shown escaped. Their SMS go through the outbox like every other message.
CREATE TABLE complaints (
    number         text PRIMARY KEY,
    office_id      text NOT NULL,
    tracking_code  text NOT NULL,
    charge_id      uuid NOT NULL,
    mobile         text NOT NULL,
    category       text NOT NULL CHECK (category IN ('excess_fee', 'cash_demanded', 'card_refused_cash_asked',
                                                     'service_not_delivered', 'receipt_not_given', 'conduct',
                                                     'other')),
    body           text NOT NULL,
    status         text NOT NULL DEFAULT 'received'
                   CHECK (status IN ('received', 'under_review', 'upheld', 'rejected')),
    note           text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
-- The regulator's list (by office, or across offices for a time range) and an office's own list, newest first.
CREATE INDEX complaints_office_created ON complaints (office_id, created_at, number);
CREATE INDEX complaints_created ON complaints (created_at, number);
