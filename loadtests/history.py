"""Years of history for the growth measurement: completed charges generated in SQL (generate_series), each with
what a real completion writes beside it: its idempotency key, its receipt and its two outbox rows (delivered).

The rows copy the payloads of a real completed charge (breakdown, settlement rows, signed receipt, messages), so
rows and indexes have production sizes. They are spread round-robin over the given offices and continue each
office's receipt sequence from its current chain head, then the heads move to the end, so live charges afterwards
keep a gap-free sequence. The history is for volume only: its receipts are copies, not signed for their own
content, and its tracking codes carry no valid check digit. Never audit a benchmark database.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg

_TEMPLATE = """
SELECT c.breakdown, c.settlement_rows, c.extras, c.amount, c.service_code, c.tariff_reference,
       c.recipient_name, c.recipient_national_code, c.recipient_mobile, r.signed, r.key_id,
       (SELECT payload FROM outbox WHERE charge_id = c.id AND channel = 'sms') AS sms_payload,
       (SELECT payload FROM outbox WHERE charge_id = c.id AND channel = 'poosheh') AS poosheh_payload
FROM charges c JOIN receipts r ON r.office_id = c.office_id AND r.charge_id = c.id
WHERE c.status = 'completed'
LIMIT 1
"""

_OFFICES = """
INSERT INTO history_offices
SELECT (row_number() OVER (ORDER BY o.office_id) - 1)::bigint AS idx, o.office_id,
       coalesce(h.last_seq, 0) AS base_seq, t.terminal_id, t.merchant_id, t.psp_id, op.id AS operator_id
FROM unnest($1::text[]) AS o(office_id)
LEFT JOIN receipt_chain_heads h ON h.office_id = o.office_id
JOIN LATERAL (SELECT * FROM terminals WHERE office_id = o.office_id ORDER BY terminal_id LIMIT 1) t ON true
JOIN LATERAL (SELECT id FROM operators WHERE office_id = o.office_id ORDER BY id LIMIT 1) op ON true
"""

# $1, $2: the batch's first and last number; $3: the offices; $4: all numbers; then the template's values.
_BATCH = """
WITH src AS (
    SELECT g, md5('bench-history-' || g)::uuid AS id, o.office_id, o.terminal_id, o.merchant_id, o.psp_id,
           o.operator_id, o.base_seq + g / $3 + 1 AS seq,
           now() - interval '365 days' * (1 - g::float8 / $4::bigint) AS at
    FROM generate_series($1::bigint, $2::bigint) AS g
    JOIN history_offices o ON o.idx = g % $3
), src2 AS (
    SELECT *, office_id || lpad(seq::text, 9, '0') || '0' AS tracking_code FROM src
), ch AS (
    INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity,
                         extras, recipient_name, recipient_national_code, recipient_mobile, amount, breakdown,
                         tariff_reference, settlement_rows, status, rrn, auth_code, masked_pan, tracking_code,
                         verify_deadline, created_at, authorized_at, verified_at, completed_at, finalized_at)
    SELECT id, office_id, terminal_id, merchant_id, psp_id, operator_id, $5, 1, $6, $7, $8, $9, $10, $11, $12, $13,
           'completed', lpad((g % 1000000000000)::text, 12, '0'), lpad((g % 1000000)::text, 6, '0'),
           '603799******0001', tracking_code, at + interval '20 minutes', at, at + interval '4 seconds',
           at + interval '5 seconds', at + interval '5 seconds', at + interval '5 seconds'
    FROM src2
    RETURNING 1
), idem AS (
    INSERT INTO idempotency_keys (office_id, key, request_hash, charge_id, created_at)
    SELECT office_id, md5('bench-key-' || g), decode(md5('bench-body-' || g), 'hex'), id, at FROM src2
    RETURNING 1
), rc AS (
    INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed)
    SELECT office_id, seq, tracking_code, id, at + interval '5 seconds', $15,
           encode(sha256(convert_to(office_id || ':' || seq, 'UTF8')), 'hex'),
           encode(sha256(convert_to(office_id || ':' || (seq - 1), 'UTF8')), 'hex'),
           jsonb_set(jsonb_set(jsonb_set($14::jsonb, '{receipt,seq}', to_jsonb(seq)),
                               '{receipt,tracking_code}', to_jsonb(tracking_code)),
                     '{receipt,charge_id}', to_jsonb(id::text))
    FROM src2
    RETURNING 1
), ob AS (
    INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, status, attempts,
                        next_attempt_at, created_at, updated_at)
    SELECT office_id, id, m.channel, m.channel || '-' || replace(id::text, '-', ''),
           CASE m.channel WHEN 'sms' THEN $9 ELSE 'iran' || $8 END,
           CASE m.channel WHEN 'sms' THEN $16::jsonb
                ELSE jsonb_set($17::jsonb, '{tracking_code}', to_jsonb(tracking_code)) END,
           'delivered', 1, at + interval '5 seconds', at + interval '5 seconds', at + interval '6 seconds'
    FROM src2 CROSS JOIN (VALUES ('sms'), ('poosheh')) AS m(channel)
    RETURNING 1
)
SELECT count(*) FROM ch
"""

_MOVE_HEADS = """
INSERT INTO receipt_chain_heads (office_id, last_seq, last_hash)
SELECT office_id, last_seq, encode(sha256(convert_to(office_id || ':' || last_seq, 'UTF8')), 'hex')
FROM (SELECT office_id, base_seq, base_seq + $2::bigint / $1 + (idx < $2::bigint % $1)::int AS last_seq
      FROM history_offices) h
WHERE last_seq > base_seq
ON CONFLICT (office_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash
"""


async def add_history(database_url: str, office_ids: list[str], count: int, batch: int = 200_000,
                      progress: Callable[[int, float], None] | None = None) -> float:
    """Adds `count` completed charges over `office_ids`; returns the seconds it took, VACUUM included.
    Run it while no charge completes: it moves the offices' chain heads."""
    started = time.monotonic()
    conn = await asyncpg.connect(database_url, command_timeout=None)
    try:
        template = await conn.fetchrow(_TEMPLATE)
        if template is None:
            raise RuntimeError("no completed charge to copy payloads from: run some charges first")
        await conn.execute("CREATE TEMP TABLE history_offices (idx bigint PRIMARY KEY, office_id text, base_seq bigint,"
                           " terminal_id text, merchant_id text, psp_id text, operator_id text)")
        await conn.execute(_OFFICES, office_ids)
        offices = await conn.fetchval("SELECT count(*) FROM history_offices")
        if offices == 0:
            raise RuntimeError("none of the offices has a terminal and an operator")
        # JSON columns come and go as text on this connection (no codec), so the payloads are copied verbatim.
        values = [template[name] for name in (
            "service_code", "extras", "recipient_name", "recipient_national_code", "recipient_mobile", "amount",
            "breakdown", "tariff_reference", "settlement_rows", "signed", "key_id", "sms_payload",
            "poosheh_payload")]
        for first in range(0, count, batch):
            last = min(first + batch, count) - 1
            async with conn.transaction():
                await conn.fetchval(_BATCH, first, last, offices, count, *values)
            if progress:
                progress(last + 1, time.monotonic() - started)
        async with conn.transaction():
            await conn.execute(_MOVE_HEADS, offices, count)
        # A year of history would long since have been vacuumed: do it now rather than have autovacuum do it
        # during the measurement.
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return time.monotonic() - started
