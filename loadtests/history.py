"""Years of history for the growth measurement: completed charges generated in SQL (generate_series), each with
what a real completion writes beside it: its idempotency key, its receipt and its two outbox rows (delivered).

The rows copy the payloads of a real completed charge (breakdown, settlement rows, signed receipt, messages), so
rows and indexes have production sizes, each for a citizen of its own (a valid national code per row): indexes
keyed by citizen then have production shapes, and the planner production statistics. They are spread round-robin
over the given offices and continue each office's receipt chain from its current head (sequence and hash links),
then the heads move to the end, so live charges afterwards keep a gap-free chain. The history is for volume only:
its signed receipts are verbatim copies of the real one, its receipt hashes stand-ins, and its tracking codes carry
no valid check digit. Never audit a benchmark database.

It loads the way a dump is restored: the tables' indexes are dropped, the rows inserted over one connection per
core, the tables vacuumed, and the indexes built again from their own definitions, which are checked to be
unchanged afterwards. Built in one pass, indexes come out denser than indexes grown row by row.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import asyncpg

from gateway.platform.partitions import ensure_partitions
from receipts.chain import genesis_hash

TABLES = ("charges", "idempotency_keys", "receipts", "outbox")

# Each load connection builds indexes on its own (no parallel workers): there is one connection per core.
_SESSION = (
    "SET synchronous_commit = off",
    "SET work_mem = '256MB'",
    "SET maintenance_work_mem = '1GB'",
    "SET max_parallel_maintenance_workers = 0",
)

# One completed charge with its receipt and messages: the payloads every generated row copies. Read from a table,
# the signed receipt keeps the compressed form PostgreSQL stored it in, instead of being compressed again per row.
_TEMPLATE = """
CREATE TEMP TABLE history_template AS
SELECT c.breakdown, c.settlement_rows, c.extras, c.amount, c.service_code, c.tariff_reference,
       c.recipient_name, c.recipient_national_code, c.recipient_mobile, r.signed, r.key_id,
       (SELECT payload FROM outbox WHERE charge_id = c.id AND channel = 'sms') AS sms_payload,
       (SELECT payload FROM outbox WHERE charge_id = c.id AND channel = 'poosheh') AS poosheh_payload
FROM charges c JOIN receipts r ON r.office_id = c.office_id AND r.charge_id = c.id
WHERE c.status = 'completed'
LIMIT 1
"""

# $1: the offices, $2: their genesis hashes.
_OFFICES = """
CREATE TEMP TABLE history_offices AS
SELECT (row_number() OVER (ORDER BY office_id) - 1)::bigint AS idx, office_id, coalesce(h.last_seq, 0) AS base_seq,
       coalesce(h.last_hash, o.genesis) AS base_hash, t.terminal_id, t.merchant_id, t.psp_id, op.id AS operator_id
FROM unnest($1::text[], $2::text[]) AS o(office_id, genesis)
LEFT JOIN receipt_chain_heads h USING (office_id)
JOIN (SELECT DISTINCT ON (office_id) * FROM terminals ORDER BY office_id, terminal_id) t USING (office_id)
JOIN (SELECT DISTINCT ON (office_id) * FROM operators ORDER BY office_id, id) op USING (office_id)
"""

# $1, $2: the batch's first and last number; $3: a seed of this load's own; $4: the offices; $5: all numbers;
# $6: when the history ends.
_BATCH = """
WITH src AS (
    SELECT g, o.office_id, o.terminal_id, o.merchant_id, o.psp_id,
           o.operator_id, o.base_seq, o.base_hash, o.base_seq + g / $4 + 1 AS seq,
           $6::timestamptz - interval '365 days' * (1 - g::float8 / $5::bigint) AS at
    FROM generate_series($1::bigint, $2::bigint) AS g
    JOIN history_offices o ON o.idx = g % $4
), src2 AS (
    SELECT *, uuidv7(at - now()) AS id, office_id || lpad(seq::text, 9, '0') || '0' AS tracking_code,
           lpad(citizen::text, 9, '0') || (CASE WHEN weighted % 11 < 2 THEN weighted % 11
                                                ELSE 11 - weighted % 11 END)::text AS national_code
    FROM (SELECT *, (g * 7919 + 100000000) % 1000000000 AS citizen FROM src) numbered
    CROSS JOIN LATERAL (
        SELECT sum(citizen / (10 ^ (8 - i))::bigint % 10 * (10 - i)) AS weighted FROM generate_series(0, 8) AS i
    ) check_digit
), ch AS (
    INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity,
                         extras, recipient_name, recipient_national_code, recipient_mobile, amount, breakdown,
                         tariff_reference, settlement_rows, status, stan, rrn, auth_code, masked_pan, tracking_code,
                         verify_deadline, created_at, authorized_at, verified_at, settled_at, completed_at,
                         finalized_at)
    SELECT id, office_id, terminal_id, merchant_id, psp_id, operator_id, t.service_code, 1, t.extras,
           t.recipient_name, national_code, t.recipient_mobile, t.amount, t.breakdown,
           t.tariff_reference, t.settlement_rows, 'completed', lpad((g % 999999 + 1)::text, 6, '0'),
           lpad((g % 1000000000000)::text, 12, '0'), lpad((g % 1000000)::text, 6, '0'), '603799******0001',
           tracking_code, at + interval '20 minutes', at, at + interval '4 seconds', at + interval '5 seconds',
           at + interval '7 seconds', at + interval '5 seconds', at + interval '5 seconds'
    FROM src2 CROSS JOIN history_template t
), idem AS (
    INSERT INTO idempotency_keys (office_id, key, request_hash, charge_id, created_at)
    SELECT office_id, md5($3 || '-key-' || g), sha256(convert_to($3 || '-body-' || g, 'UTF8')), id, at FROM src2
), rc AS (
    INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed)
    SELECT office_id, seq, tracking_code, id, at + interval '5 seconds', t.key_id,
           encode(sha256(convert_to(office_id || ':' || seq, 'UTF8')), 'hex'),
           CASE WHEN seq = base_seq + 1 THEN base_hash
                ELSE encode(sha256(convert_to(office_id || ':' || (seq - 1), 'UTF8')), 'hex') END,
           t.signed
    FROM src2 CROSS JOIN history_template t
), ob AS (
    INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, status, attempts,
                        next_attempt_at, created_at, updated_at, provider_message_id, sent_at, delivery_status,
                        delivery_status_at)
    SELECT office_id, id, m.channel, m.channel || '-' || replace(id::text, '-', ''),
           CASE m.channel WHEN 'sms' THEN t.recipient_mobile ELSE 'iran' || national_code END,
           CASE m.channel WHEN 'sms' THEN t.sms_payload
                ELSE jsonb_set(t.poosheh_payload, '{tracking_code}', to_jsonb(tracking_code)) END,
           'delivered', 1, at + interval '5 seconds', at + interval '5 seconds', at + interval '6 seconds',
           CASE m.channel WHEN 'sms' THEN (1000000 + g)::text ELSE md5($3 || '-message-' || g) END,
           at + interval '6 seconds', 'delivered', at + interval '6 seconds'
    FROM src2 CROSS JOIN history_template t CROSS JOIN (VALUES ('sms'), ('poosheh')) AS m(channel)
)
SELECT 1
"""

_MOVE_HEADS = """
INSERT INTO receipt_chain_heads (office_id, last_seq, last_hash)
SELECT office_id, last_seq, encode(sha256(convert_to(office_id || ':' || last_seq, 'UTF8')), 'hex')
FROM (SELECT office_id, base_seq, base_seq + $2::bigint / $1 + (idx < $2::bigint % $1)::int AS last_seq
      FROM history_offices) h
WHERE last_seq > base_seq
ON CONFLICT (office_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash
"""

# The tables' indexes, with the primary key or unique constraint each one backs. An index a foreign key relies
# on, or one behind another kind of constraint, stays in place.
_INDEXES = """
SELECT t.relname AS table_name, x.relname AS index_name,
       replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') AS definition,
       c.conname AS constraint_name, c.contype::text AS constraint_type,
       pg_get_constraintdef(c.oid) AS constraint_definition, t.relkind = 'p' AS partitioned
FROM pg_index i
JOIN pg_class x ON x.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY($1::text[])
  AND (c.oid IS NULL OR c.contype IN ('p', 'u') AND NOT c.condeferrable)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
ORDER BY t.relname, x.relname
"""

_DEFINITIONS = """
SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename = ANY($1::text[])
UNION ALL
SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) || ' ' || conindid::regclass::text
FROM pg_constraint WHERE conrelid = ANY(SELECT ('public.' || name)::regclass FROM unnest($1::text[]) AS name)
ORDER BY 1
"""


async def add_history(
    database_url: str,
    office_ids: list[str],
    count: int,
    batch: int = 100_000,
    connections: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> float:
    """Adds `count` completed charges over `office_ids`; returns the seconds it took, index builds and VACUUM
    included. No charge may be created or completed meanwhile: the tables' unique indexes are gone during the load,
    and the offices' chain heads move."""
    started = time.monotonic()
    seed = uuid.uuid4().hex  # ids and keys of this load's own, so a database can take history twice
    workers = [await _connect(database_url) for _ in range(connections or os.cpu_count() or 1)]
    try:
        conn = workers[0]
        # The history ends before the first charge already there: those, and any after, stay apart from it.
        ends_at = await conn.fetchval("SELECT least(now(), min(created_at)) - interval '1 minute' FROM charges")
        for worker in workers:
            await worker.execute(_TEMPLATE)
            if not await worker.fetchval("SELECT count(*) FROM history_template"):
                raise RuntimeError("no completed charge to copy payloads from: run some charges first")
            await worker.execute(_OFFICES, office_ids, [genesis_hash(office_id) for office_id in office_ids])
            await worker.execute("ANALYZE history_offices")
        offices = await conn.fetchval("SELECT count(*) FROM history_offices")
        if offices == 0:
            raise RuntimeError("none of the offices has a terminal and an operator")

        # The month partitions of the whole history (migration 0100), before the rows arrive.
        await ensure_partitions(conn, ends_at - timedelta(days=365), months_ahead=13)
        definitions = await conn.fetch(_DEFINITIONS, list(TABLES))
        indexes = await conn.fetch(_INDEXES, list(TABLES))
        async with conn.transaction():
            for index in indexes:
                if index["constraint_name"]:
                    await conn.execute(
                        f'ALTER TABLE "{index["table_name"]}" DROP CONSTRAINT "{index["constraint_name"]}"'
                    )
                else:
                    await conn.execute(f'DROP INDEX "{index["index_name"]}"')

        batches = iter(range(0, count, batch))
        done = 0

        async def load(worker: asyncpg.Connection) -> None:
            nonlocal done
            for first in batches:
                last = min(first + batch, count) - 1
                await worker.execute(_BATCH, first, last, seed, offices, count, ends_at)
                done += last - first + 1
                if progress:
                    progress(done, time.monotonic() - started)

        await asyncio.gather(*(load(worker) for worker in workers))
        await conn.execute(_MOVE_HEADS, offices, count)

        # A year of history would long since have been vacuumed: do it now rather than have autovacuum do it
        # during the measurement. Table by table, so that a table's pages are still in memory for its index builds,
        # which run side by side and share their reads.
        # A partitioned table's key is built by adding the constraint (an index of every partition): PostgreSQL
        # cannot attach a key to an index built beforehand there.
        for table in TABLES:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
            await _in_parallel(
                workers,
                [
                    index["definition"]
                    for index in indexes
                    if index["table_name"] == table and not (index["partitioned"] and index["constraint_name"])
                ],
            )
        for index in indexes:
            if index["constraint_name"] and index["partitioned"]:
                await conn.execute(
                    f'ALTER TABLE "{index["table_name"]}" ADD CONSTRAINT "{index["constraint_name"]}"'
                    f" {index['constraint_definition']}"
                )
            elif index["constraint_name"]:
                kind = "PRIMARY KEY" if index["constraint_type"] == "p" else "UNIQUE"
                await conn.execute(
                    f'ALTER TABLE "{index["table_name"]}" ADD CONSTRAINT "{index["constraint_name"]}"'
                    f' {kind} USING INDEX "{index["index_name"]}"'
                )
        if await conn.fetch(_DEFINITIONS, list(TABLES)) != definitions:
            raise RuntimeError("the tables' indexes or constraints differ from before the load")
        await conn.execute("CHECKPOINT")
    finally:
        for worker in workers:
            await worker.close()
    return time.monotonic() - started


async def _connect(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url, command_timeout=None)
    for setting in _SESSION:
        await conn.execute(setting)
    return conn


async def _in_parallel(workers: list[asyncpg.Connection], statements: list[str]) -> None:
    """Runs the statements in order, each on the next free connection."""
    pending = iter(statements)

    async def run(worker: asyncpg.Connection) -> None:
        for statement in pending:
            await worker.execute(statement)

    await asyncio.gather(*(run(worker) for worker in workers))
