-- Every paper print of a receipt: the first is the original, every later one a copy marked «رونوشت» on the paper.
-- Who printed it is an API key (`key:<key id>`) or a person signed in to the pages (`person:<username>`).
CREATE TABLE receipt_prints (
    office_id      text NOT NULL,
    tracking_code  text NOT NULL,
    number         integer NOT NULL CHECK (number >= 1),
    form           text NOT NULL CHECK (form IN ('a5', '80mm', 'txt')),
    printed_by     text NOT NULL,
    printed_at     timestamptz NOT NULL,
    PRIMARY KEY (office_id, tracking_code, number)
);
