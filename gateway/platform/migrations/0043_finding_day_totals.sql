-- Findings pre-aggregated by Tehran day, office and type, for the regulator's overview and offices list: their cost
-- follows the days and offices asked about, not the findings stored. Kept current inside the statement that records
-- findings (the detection pass): a statement-level trigger adds each statement's new rows, so a pass that commits
-- has its totals, and one that rolls back has none. Findings are never deleted; an upheld objection sets a finding
-- aside but it stays a finding (the scorecard, which leaves set-aside findings out, reads violations itself).
CREATE TABLE finding_day_totals (
    office_id  text NOT NULL,
    day        date NOT NULL,     -- the Tehran calendar day the finding occurred on
    type       text NOT NULL,
    findings   integer NOT NULL,
    amount     bigint NOT NULL,   -- rials asked or taken
    excess     bigint NOT NULL,   -- rials over the cap
    PRIMARY KEY (office_id, day, type)
);
CREATE INDEX finding_day_totals_day ON finding_day_totals (day);

CREATE FUNCTION pishkhan_add_finding_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO finding_day_totals AS t (office_id, day, type, findings, amount, excess)
    SELECT office_id, (occurred_at AT TIME ZONE 'Asia/Tehran')::date, type, count(*),
           coalesce(sum(amount), 0), coalesce(sum(excess), 0)
    FROM new_findings GROUP BY 1, 2, 3
    ON CONFLICT (office_id, day, type) DO UPDATE
        SET findings = t.findings + EXCLUDED.findings, amount = t.amount + EXCLUDED.amount,
            excess = t.excess + EXCLUDED.excess;
    RETURN NULL;
END $$;
CREATE TRIGGER violations_day_totals AFTER INSERT ON violations
    REFERENCING NEW TABLE AS new_findings FOR EACH STATEMENT EXECUTE FUNCTION pishkhan_add_finding_totals();

INSERT INTO finding_day_totals (office_id, day, type, findings, amount, excess)
SELECT office_id, (occurred_at AT TIME ZONE 'Asia/Tehran')::date, type, count(*),
       coalesce(sum(amount), 0), coalesce(sum(excess), 0)
FROM violations GROUP BY 1, 2, 3;
