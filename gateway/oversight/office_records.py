"""What an inspector reads of one office: its charges, its refused attempts, its signed receipts and the audit of its
receipt chain, and the findings each office has (for the offices list). Charges and refusals are paged by
(created_at, id), receipts by their sequence in the office's chain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from gateway.oversight.store import Query, charges_made_between
from receipts.audit import AuditReport, verify_chain
from receipts.signing import Keyring, VerifyingKeyring

CHARGE_COLUMNS = (
    "id, created_at, completed_at, terminal_id, psp_id, operator_id, service_code, quantity, amount, breakdown, "
    "tariff_reference, status, decline_code, tracking_code, masked_pan, rrn"
)
REFUSAL_COLUMNS = (
    "id, created_at, terminal_id, operator_id, service_code, reason, requested, cap, excess, payment_method, "
    "tariff_reference, details"
)


def _paged(
    table: str, columns: str, office_id: str, since, until, after: tuple | None, limit: int | None, *bounds: str
) -> Query:
    args: list = [office_id, since, until]
    clauses = ["office_id = $1", "created_at >= $2", "created_at < $3", *bounds]
    if after is not None:
        args.extend(after)
        clauses.append("(created_at, id) > ($4, $5)")
    sql = f"SELECT {columns} FROM {table} WHERE {' AND '.join(clauses)} ORDER BY created_at, id"
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT ${len(args)}"
    return sql, args


def charges_query(office_id: str, since: datetime, until: datetime, after: tuple | None, limit: int | None) -> Query:
    """The office's charges created in [since, until), every state; no recipient's personal data."""
    return _paged("charges", CHARGE_COLUMNS, office_id, since, until, after, limit, charges_made_between("$2", "$3"))


def refusals_query(office_id: str, since: datetime, until: datetime, after: tuple | None, limit: int | None) -> Query:
    """The office's refused attempts in [since, until), every kind, with what was asked and the cap."""
    return _paged("refusals", REFUSAL_COLUMNS, office_id, since, until, after, limit)


async def receipts_from(db, office_id: str, from_seq: int, limit: int) -> list:
    """Up to `limit` signed receipts of the office from sequence `from_seq` on, in chain order."""
    rows = await db.fetch(
        "SELECT seq, signed FROM receipts WHERE office_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
        office_id,
        from_seq,
        limit,
    )
    return list(rows)


async def every_receipt(conn, office_id: str) -> AsyncIterator:
    """The office's whole chain, in order, through a server-side cursor (for the audit)."""
    async with conn.transaction():
        async for row in conn.cursor(
            "SELECT signed FROM receipts WHERE office_id = $1 ORDER BY seq", office_id, prefetch=1000
        ):
            yield row["signed"]


async def findings_per_office(
    db, office_ids: Sequence[str], since: datetime | None, until: datetime | None
) -> dict[str, int]:
    rows = await db.fetch(
        """SELECT office_id, count(*) AS findings FROM violations
           WHERE office_id = ANY($1::text[]) AND set_aside_at IS NULL
                 AND ($2::timestamptz IS NULL OR occurred_at >= $2)
                 AND ($3::timestamptz IS NULL OR occurred_at < $3)
           GROUP BY office_id""",
        list(office_ids),
        since,
        until,
    )
    return {row["office_id"]: row["findings"] for row in rows}


async def audit_office_chain(pool, office_id: str, keyring: Keyring | VerifyingKeyring) -> AuditReport:
    """The audit of `pishkhan receipts verify` over the office's whole chain, on the server: every signature, link,
    sequence number, time and key; the report names the first break."""
    async with pool.acquire() as conn:
        receipts = [signed async for signed in every_receipt(conn, office_id)]
    return verify_chain(receipts, keyring)
