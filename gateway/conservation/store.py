"""What the conservation check reads from the gateway: each charge with its receipt and SMS counts, its void or
refund, and the cancellation receipt and SMS counts."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

_COLUMNS = """c.id, c.psp_id, c.terminal_id, c.stan, c.amount, c.status, c.settlement_rows, c.verify_deadline,
    c.settled_at IS NOT NULL AS settled,
    (SELECT count(*) FROM receipts r
     WHERE r.office_id = c.office_id AND r.charge_id = c.id AND r.kind = 'charge') AS receipts,
    (SELECT count(*) FROM outbox o
     WHERE o.charge_id = c.id AND o.channel = 'sms' AND o.purpose = 'receipt') AS sms_messages,
    v.status AS void_status,
    (SELECT count(*) FROM receipts r
     WHERE r.office_id = c.office_id AND r.charge_id = c.id AND r.kind = 'cancellation') AS cancellation_receipts,
    (SELECT count(*) FROM outbox o
     WHERE o.charge_id = c.id AND o.channel = 'sms' AND o.purpose = 'cancellation') AS cancellation_sms_messages,
    f.status AS refund_status"""
_FROM = "charges c LEFT JOIN voids v ON v.charge_id = c.id LEFT JOIN refunds f ON f.charge_id = c.id"


async def charges_for_check(db, psp_ids: list[str] | None, since: datetime | None) -> list[asyncpg.Record]:
    """The charges of those PSPs (every PSP's with None), created since `since` if given."""
    return await db.fetch(
        f"""SELECT {_COLUMNS} FROM {_FROM}
           WHERE ($1::text[] IS NULL OR c.psp_id = ANY($1::text[]))
             AND ($2::timestamptz IS NULL OR c.created_at >= $2)""",
        psp_ids,
        since,
    )


async def charges_with_ids(db, ids: list[str], since: datetime | None) -> list[asyncpg.Record]:
    """The charges among `ids` (references a PSP ledger carries; those that are no charge id are left out), created
    since `since` if given."""
    uuids = []
    for text in ids:
        try:
            uuids.append(uuid.UUID(text))
        except ValueError:
            continue
    return await db.fetch(
        f"""SELECT {_COLUMNS} FROM {_FROM}
            WHERE c.id = ANY($1::uuid[]) AND ($2::timestamptz IS NULL OR c.created_at >= $2)""",
        uuids,
        since,
    )
