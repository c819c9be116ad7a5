-- Column statistics only where a query filters, joins, sorts or groups. ANALYZE of a month's partition computes
-- statistics for every column of a sample of up to 30,000 rows, and autovacuum runs it each time a tenth of the
-- partition has changed: on a month that is still small that is every minute or two, a burst of a core for most
-- of a second on `charges` (600 ms on 58,000 charges, half of it the JSON columns) and a quarter of a second on the
-- `outbox`. No statement reads these columns in a condition: their statistics were computed and never used.
-- With them off, that ANALYZE takes 200-240 ms on `charges` and 125-135 ms on the `outbox` (docs/performance.md).
ALTER TABLE charges
    ALTER COLUMN settlement_rows SET STATISTICS 0,
    ALTER COLUMN identity_check SET STATISTICS 0,
    ALTER COLUMN breakdown SET STATISTICS 0,
    ALTER COLUMN extras SET STATISTICS 0,
    ALTER COLUMN recipient_name SET STATISTICS 0,
    ALTER COLUMN recipient_mobile SET STATISTICS 0,
    ALTER COLUMN tariff_reference SET STATISTICS 0,
    ALTER COLUMN masked_pan SET STATISTICS 0,
    ALTER COLUMN auth_code SET STATISTICS 0,
    ALTER COLUMN decline_code SET STATISTICS 0,
    ALTER COLUMN last_psp_note SET STATISTICS 0,
    ALTER COLUMN merchant_id SET STATISTICS 0,
    ALTER COLUMN operator_id SET STATISTICS 0,
    ALTER COLUMN verify_deadline SET STATISTICS 0,
    ALTER COLUMN authorized_at SET STATISTICS 0,
    ALTER COLUMN verified_at SET STATISTICS 0,
    ALTER COLUMN quantity SET STATISTICS 0,
    ALTER COLUMN recovery_attempts SET STATISTICS 0;

ALTER TABLE outbox
    ALTER COLUMN payload SET STATISTICS 0,
    ALTER COLUMN message_id SET STATISTICS 0,
    ALTER COLUMN provider_message_id SET STATISTICS 0,
    ALTER COLUMN recipient SET STATISTICS 0,
    ALTER COLUMN last_error SET STATISTICS 0;

-- A partition created later does not take its parent's column statistics targets (CREATE TABLE ... PARTITION OF
-- leaves them at the default): the months created ahead copy them here.
CREATE OR REPLACE FUNCTION pishkhan_ensure_month_partition(parent regclass, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', month)::date;
    parent_name text := (SELECT relname FROM pg_class WHERE oid = parent);
    name text := parent_name || '_' || to_char(first, 'YYYY_MM');
    target record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = parent AND c.relname = name) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%s) TO (%s)', name, parent,
                   pishkhan_month_bound(parent, first), pishkhan_month_bound(parent, (first + 1 * interval '1 month')::date));
    FOR target IN SELECT attname, attstattarget FROM pg_attribute
                  WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0 LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET STATISTICS %s', name, target.attname, target.attstattarget);
    END LOOP;
    RETURN true;
END $$;
