-- The split settlement rows of completed charges, one table row per settlement row, written by the charge's
-- completion in the same statement (gateway/charging/store.py). The reconciliation reads a day of them as narrow,
-- fixed-width rows: no wide charge row to read and no JSON to expand per charge. A charge's settlement rows never
-- change once it is completed (a void or a refund is a row of its own table), so nothing else writes here.
--
-- Rows arrive in completion order, so a BRIN index on completed_at finds a day's rows for almost nothing per
-- insert (a B-tree would add an index entry to every completion); autosummarize keeps it summarised as pages fill.
CREATE TABLE charge_settlement_rows (
    completed_at   timestamptz NOT NULL,
    charge_id      uuid NOT NULL,
    psp_id         text NOT NULL,
    terminal_id    text NOT NULL,
    office_id      text NOT NULL,
    service_code   text NOT NULL,
    rrn            text,
    stan           text NOT NULL,
    tracking_code  text,
    payment_id     text NOT NULL,
    iban           text NOT NULL,
    amount         bigint NOT NULL
);

-- The charges completed before this table existed, in completion order (what the BRIN index relies on).
INSERT INTO charge_settlement_rows (completed_at, charge_id, psp_id, terminal_id, office_id, service_code, rrn, stan,
                                    tracking_code, payment_id, iban, amount)
SELECT c.completed_at, c.id, c.psp_id, c.terminal_id, c.office_id, c.service_code, c.rrn, c.stan, c.tracking_code,
       r.payment_id, r.iban, r.amount
FROM charges c
CROSS JOIN LATERAL jsonb_to_recordset(c.settlement_rows) AS r(iban text, amount bigint, payment_id text)
WHERE c.status = 'completed'
ORDER BY c.completed_at, c.id;

CREATE INDEX charge_settlement_rows_completed ON charge_settlement_rows USING brin (completed_at)
    WITH (autosummarize = on);
