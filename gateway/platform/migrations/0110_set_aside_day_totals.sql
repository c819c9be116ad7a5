-- A finding set aside by an upheld objection leaves the day totals the overview and the offices list read, as it
-- leaves the scorecard: it moves from `findings` (and its rials from `amount` and `excess`) to `set_aside`, which
-- the overview shows apart. The trigger runs in the transaction that sets the finding aside (the decision), so the
-- totals never disagree with the findings; setting one back (never done today) would move it back.
ALTER TABLE finding_day_totals ADD COLUMN set_aside integer NOT NULL DEFAULT 0;

CREATE FUNCTION pishkhan_move_set_aside_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE WHEN NEW.set_aside_at IS NULL THEN -1 ELSE 1 END;  -- 1: set aside; -1: counted again
BEGIN
    UPDATE finding_day_totals
       SET findings = findings - sign, set_aside = set_aside + sign,
           amount = amount - sign * coalesce(NEW.amount, 0), excess = excess - sign * coalesce(NEW.excess, 0)
     WHERE office_id = NEW.office_id AND day = (NEW.occurred_at AT TIME ZONE 'Asia/Tehran')::date
       AND type = NEW.type;
    RETURN NULL;
END $$;
CREATE TRIGGER violations_set_aside_totals AFTER UPDATE OF set_aside_at ON violations
    FOR EACH ROW WHEN ((OLD.set_aside_at IS NULL) <> (NEW.set_aside_at IS NULL))
    EXECUTE FUNCTION pishkhan_move_set_aside_totals();

UPDATE finding_day_totals t
   SET findings = t.findings - s.n, set_aside = s.n, amount = t.amount - s.amount, excess = t.excess - s.excess
  FROM (SELECT office_id, (occurred_at AT TIME ZONE 'Asia/Tehran')::date AS day, type, count(*) AS n,
               coalesce(sum(amount), 0) AS amount, coalesce(sum(excess), 0) AS excess
          FROM violations WHERE set_aside_at IS NOT NULL GROUP BY 1, 2, 3) s
 WHERE t.office_id = s.office_id AND t.day = s.day AND t.type = s.type;
