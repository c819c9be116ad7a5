"""The SQL of complaints: the receipt a complaint is about, filing, reading, listing and deciding."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.receipt_book.store import receipt_key


@dataclass(frozen=True)
class ComplaintFilter:
    office_ids: list[str] | None = None
    category: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


_COLUMNS = "number, office_id, tracking_code, category, body, status, note, created_at, updated_at"


async def receipt_of(db, tracking_code: str) -> asyncpg.Record | None:
    """The receipt's office, charge, amount, service and issue time, and the mobile it was sent to; read by the
    office and sequence number the tracking code names (receipts_pkey). None for a code that is not well formed."""
    key = receipt_key(tracking_code)
    if key is None:
        return None
    return await db.fetchrow(
        """SELECT r.office_id, r.charge_id, r.issued_at, c.recipient_mobile AS mobile, c.amount, c.service_code,
                  c.terminal_id, c.operator_id
           FROM receipts r JOIN charges c ON c.id = r.charge_id
           WHERE r.office_id = $1 AND r.seq = $2 AND r.tracking_code = $3""",
        *key,
        tracking_code,
    )


async def queue_sms(db, office_id: str, message_id: str, mobile: str, sender: str, text: str, at: datetime) -> None:
    """One SMS through the outbox. The outbox keys a message by the thing it is about (charge_id): a complaint's
    message carries an id made from its own message id, so it never counts among a charge's messages."""
    await db.execute(
        """INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at, updated_at,
                               next_attempt_at)
           VALUES ($1, $2, 'sms', $3, $4, $5, $6, $6, $6)""",
        office_id,
        uuid.uuid5(uuid.NAMESPACE_URL, message_id),
        message_id,
        mobile,
        {"sender": sender, "text": text},
        at,
    )


async def insert_complaint(
    conn, number: str, receipt: asyncpg.Record, tracking_code: str, category: str, body: str, at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO complaints (number, office_id, tracking_code, charge_id, mobile, category, body, created_at,
                                   updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)""",
        number,
        receipt["office_id"],
        tracking_code,
        receipt["charge_id"],
        receipt["mobile"],
        category,
        body,
        at,
    )


async def get_complaint(db, number: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await db.fetchrow(f"SELECT {_COLUMNS}, mobile, charge_id FROM complaints WHERE number = $1{lock}", number)


async def set_status(conn, number: str, status: str, note: str | None, at: datetime) -> None:
    await conn.execute(
        "UPDATE complaints SET status = $2, note = COALESCE($3, note), updated_at = $4 WHERE number = $1",
        number,
        status,
        note,
        at,
    )


async def list_complaints(
    db, where: ComplaintFilter, after: tuple[datetime, str] | None, limit: int | None
) -> list[asyncpg.Record]:
    """Newest first; `after` is the (created_at, number) of the last row of the previous page."""
    clauses, args = [], []

    def param(value) -> str:
        args.append(value)
        return f"${len(args)}"

    if where.office_ids is not None:
        clauses.append(f"office_id = ANY({param(where.office_ids)}::text[])")
    if where.category:
        clauses.append(f"category = {param(where.category)}")
    if where.status:
        clauses.append(f"status = {param(where.status)}")
    if where.since:
        clauses.append(f"created_at >= {param(where.since)}")
    if where.until:
        clauses.append(f"created_at < {param(where.until)}")
    if after is not None:
        clauses.append(f"(created_at, number) < ({param(after[0])}, {param(after[1])})")
    sql = f"SELECT {_COLUMNS} FROM complaints"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY created_at DESC, number DESC"
    if limit is not None:
        sql += f" LIMIT {param(limit)}"
    return await db.fetch(sql, *args)
