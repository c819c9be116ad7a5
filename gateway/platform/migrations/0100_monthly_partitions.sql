-- Charges and receipts partitioned by month (PostgreSQL declarative partitioning), data kept. Design and the reason
-- for each table's key: docs/scaling.md ("Time-partitioned tables").
--
-- charges are partitioned by RANGE (id): a charge id is a UUIDv7, whose leading 48 bits are the Unix millisecond it
-- was made and PostgreSQL orders uuid by its bytes, so a month is the range from the lowest UUIDv7 of its first
-- millisecond to the lowest of the next month's. The primary key stays (id), and every foreign key to it stays.
-- receipts are partitioned by RANGE (issued_at): an office's receipts of one month are then one unbroken stretch of
-- its chain (sequence and time rise together), so a retired month exports as one file per office that
-- `pishkhan receipts verify` accepts. A charge's receipt is issued at the charge's completed_at, which is how a
-- look-up through the charge prunes to one month.
-- Months are UTC months. A DEFAULT partition takes any row of a month not created yet (and ids that are not
-- UUIDv7), so an insert never fails for want of a partition; `pishkhan partitions ensure` creates months ahead.

-- The lowest UUIDv7 of the millisecond t falls in: the 48-bit Unix millisecond count, then zeros.
CREATE FUNCTION pishkhan_uuid7_floor(t timestamptz) RETURNS uuid LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM t) * 1000)::bigint), 12, '0') || repeat('0', 20))::uuid
$$;

-- The partition bound of the UTC month that starts on `month`, for a table partitioned by a UUIDv7 or a timestamptz.
CREATE FUNCTION pishkhan_month_bound(parent regclass, month date) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    key_type regtype;
    starts timestamptz := month::timestamp AT TIME ZONE 'UTC';
BEGIN
    SELECT a.atttypid::regtype INTO STRICT key_type
    FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partrelid = parent;
    IF key_type = 'uuid'::regtype THEN
        RETURN quote_literal(pishkhan_uuid7_floor(starts)::text);
    ELSIF key_type = 'timestamp with time zone'::regtype THEN
        RETURN quote_literal(to_char(starts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS+00'));
    END IF;
    RAISE EXCEPTION '% is partitioned by a % column: months bound only uuid (UUIDv7) and timestamptz keys',
        parent, key_type;
END $$;

-- The partition of `parent` holding the UTC month of `month`, named <parent>_<YYYY>_<MM>; creates it if missing and
-- returns true if it did. A month whose rows the DEFAULT partition already holds cannot be created (PostgreSQL
-- refuses); it happens only when partitions were not created ahead of time for months.
CREATE FUNCTION pishkhan_ensure_month_partition(parent regclass, month date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', month)::date;
    parent_name text := (SELECT relname FROM pg_class WHERE oid = parent);
    name text := parent_name || '_' || to_char(first, 'YYYY_MM');
BEGIN
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = parent AND c.relname = name) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%s) TO (%s)', name, parent,
                   pishkhan_month_bound(parent, first), pishkhan_month_bound(parent, (first + 1 * interval '1 month')::date));
    RETURN true;
END $$;

-- Turns the plain table `tbl` into one partitioned by month on `key`, keeping its rows, columns, defaults, checks,
-- indexes, triggers and sequences, and every foreign key to and from it. Everything is read from the catalogue at
-- the time of the call, so columns, indexes and foreign keys added by other migrations (before or after this one
-- was written) come along. A primary key or unique index without the key gets the key appended (PostgreSQL
-- requires it): unique within the month of the key.
CREATE FUNCTION pishkhan_partition_by_month(tbl text, key text, months_ahead integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rel regclass := tbl::regclass;
    old_name text := tbl || '_unpartitioned';
    key_attnum smallint;
    key_type regtype;
    item record;
    columns text;
    rebuild text[] := '{}';      -- statements that put back keys, indexes and triggers
    foreign_keys text[] := '{}';  -- and then the foreign keys
    first_month date;
    this_month date;
    copied bigint;
    last_month date;
    month date;
BEGIN
    SELECT attnum, atttypid::regtype INTO STRICT key_attnum, key_type
    FROM pg_attribute WHERE attrelid = rel AND attname = key AND NOT attisdropped;

    -- Foreign keys of other tables to this one and of this one to others: dropped now, put back at the end.
    FOR item IN SELECT conrelid, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
                WHERE contype = 'f' AND (confrelid = rel OR conrelid = rel) LOOP
        IF item.conrelid = rel THEN
            foreign_keys := foreign_keys || format('ALTER TABLE %I ADD CONSTRAINT %I %s', tbl, item.conname, item.def);
        ELSE
            foreign_keys := foreign_keys || format('ALTER TABLE %s ADD CONSTRAINT %I %s', item.conrelid::regclass,
                                         item.conname, item.def);
        END IF;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', item.conrelid::regclass, item.conname);
    END LOOP;

    -- Primary key and unique constraints, then the other indexes.
    FOR item IN SELECT conname, contype, conkey, condeferrable FROM pg_constraint
                WHERE conrelid = rel AND contype IN ('p', 'u', 'x') LOOP
        IF item.contype = 'x' OR item.condeferrable THEN
            RAISE EXCEPTION 'constraint % of %: only plain primary keys and unique constraints can be partitioned',
                item.conname, tbl;
        END IF;
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) INTO columns
        FROM unnest(item.conkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = k.attnum;
        IF NOT key_attnum = ANY(item.conkey) THEN
            columns := columns || ', ' || quote_ident(key);
        END IF;
        rebuild := rebuild || format('ALTER TABLE %I ADD CONSTRAINT %I %s (%s)', tbl, item.conname,
                                     CASE item.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, columns);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', tbl, item.conname);
    END LOOP;
    FOR item IN SELECT i.indexrelid, i.indisunique, i.indkey::int2[] AS indkey, x.relname,
                       pg_get_indexdef(i.indexrelid) AS def, pg_get_expr(i.indpred, i.indrelid) AS predicate
                FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid WHERE i.indrelid = rel LOOP
        IF item.indisunique AND NOT key_attnum = ANY(item.indkey) THEN
            IF 0 = ANY(item.indkey) THEN
                RAISE EXCEPTION 'unique index % of % is on an expression: give it the partition key % first',
                    item.relname, tbl, key;
            END IF;
            SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) INTO columns
            FROM unnest(item.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = k.attnum;
            rebuild := rebuild || format('CREATE UNIQUE INDEX %I ON %I (%s, %I)%s', item.relname, tbl, columns, key,
                                         coalesce(' WHERE ' || item.predicate, ''));
        ELSE
            rebuild := rebuild || item.def;
        END IF;
        EXECUTE format('DROP INDEX %I', item.relname);
    END LOOP;

    FOR item IN SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = rel AND NOT tgisinternal LOOP
        rebuild := rebuild || item.def;
    END LOOP;

    EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old_name);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED '
                   'INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS) PARTITION BY RANGE (%I)',
                   tbl, old_name, key);
    -- Sequences the old table owned (its serial columns) now belong to the new one, so they outlive the old table.
    FOR item IN SELECT d.objid::regclass AS seq, a.attname FROM pg_depend d
                JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.refobjid = old_name::regclass AND d.deptype = 'a' LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNED BY %I.%I', item.seq, tbl, item.attname);
    END LOOP;

    -- A partition for every month the rows fall in, through the current month and `months_ahead` after it.
    IF key_type = 'uuid'::regtype THEN
        EXECUTE format('SELECT (min(uuid_extract_timestamp(%1$I)) AT TIME ZONE ''UTC'')::date FROM %2$I '
                       'WHERE uuid_extract_version(%1$I) = 7',
                       key, old_name) INTO first_month;
    ELSE
        EXECUTE format('SELECT (min(%I) AT TIME ZONE ''UTC'')::date FROM %I', key, old_name) INTO first_month;
    END IF;
    this_month := date_trunc('month', now() AT TIME ZONE 'UTC');
    last_month := this_month + months_ahead * interval '1 month';
    month := date_trunc('month', least(coalesce(first_month, this_month), this_month));
    WHILE month <= last_month LOOP
        PERFORM pishkhan_ensure_month_partition(tbl::regclass, month);
        month := month + interval '1 month';
    END LOOP;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || '_default', tbl);

    EXECUTE format('INSERT INTO %I SELECT * FROM %I', tbl, old_name);
    GET DIAGNOSTICS copied = ROW_COUNT;
    EXECUTE format('DROP TABLE %I', old_name);
    FOREACH columns IN ARRAY rebuild || foreign_keys LOOP
        EXECUTE columns;
    END LOOP;
    IF copied > 0 THEN
        -- Statistics for the rows copied (an empty table is left unanalysed, as autovacuum would leave it).
        EXECUTE format('ANALYZE %I', tbl);
    END IF;
END $$;

SELECT pishkhan_partition_by_month('charges', 'id', 3);
SELECT pishkhan_partition_by_month('receipts', 'issued_at', 3);
