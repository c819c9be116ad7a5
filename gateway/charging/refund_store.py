"""The SQL of refunds. Like a void, a refund costs two statements on its common path: one to store it (with its
idempotency key) before the instruction is sent, one to finish it: instructed with its cancellation receipt, chain
head and outbox rows, or failed. Every write about a pending refund is fenced by its claim epoch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from gateway.charging.way_back_store import CancellationReceipt, WayBackStore, finish_with_receipt, finishing_statement
from gateway.core.psp import SettlementRow
from gateway.core.refunds import REFUND_PENDING, Refund, RefundStatus
from gateway.core.voids import VoidReason

PENDING_REFUND_STATUSES = [s.value for s in REFUND_PENDING]


class RefundExists(Exception):
    """The charge already has a refund, or a void that returns or may return its money."""


# Stored only while the charge has no void but a refused one: of a void and a refund racing at the window's edge,
# the PSP refuses whichever comes second (a refunded purchase is not reversible, a reversed one not refundable).
_INSERT_REFUND = """
WITH idem AS (
    INSERT INTO idempotency_keys (office_id, key, request_hash, refund_id, created_at)
    VALUES ($3, $16, $17, $1, $13)
    ON CONFLICT (office_id, key) DO NOTHING
    RETURNING 1
)
INSERT INTO refunds (id, charge_id, office_id, psp_id, terminal_id, stan, amount, rows, reason, reason_text,
                     requested_by, status, created_at, next_recovery_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
WHERE EXISTS (SELECT 1 FROM idem)
  AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.charge_id = $2 AND v.status <> $15)
RETURNING id
"""


def _rows_json(rows: tuple[SettlementRow, ...]) -> list[dict]:
    return [{"iban": row.iban, "amount": row.amount, "payment_id": row.payment_id} for row in rows]


async def insert_refund(db, refund: Refund, idempotency_key: str, request_hash: bytes) -> bool:
    """Stores the refund under its idempotency key: False if the key was already used; raises RefundExists if the
    charge already has a refund or a void that is not refused (then nothing is stored, the key neither)."""
    async with db.acquire() as conn, conn.transaction():
        try:
            stored = await conn.fetchval(
                _INSERT_REFUND,
                refund.id,
                refund.charge_id,
                refund.office_id,
                refund.psp_id,
                refund.terminal_id,
                refund.stan,
                refund.amount,
                _rows_json(refund.rows),
                refund.reason.value,
                refund.reason_text,
                refund.requested_by,
                refund.status.value,
                refund.created_at,
                refund.next_recovery_at,
                "refused",
                idempotency_key,
                request_hash,
            )
        except asyncpg.UniqueViolationError as exc:
            raise RefundExists() from exc
        if stored is None and await conn.fetchval(
            "SELECT refund_id = $3 FROM idempotency_keys WHERE office_id = $1 AND key = $2",
            refund.office_id,
            idempotency_key,
            refund.id,
        ):
            raise RefundExists()  # the key went in, the refund did not: a void got there first; keep neither
    return stored is not None


def refund_from_row(row: Mapping[str, Any]) -> Refund:
    return Refund(
        id=row["id"],
        charge_id=row["charge_id"],
        office_id=row["office_id"],
        psp_id=row["psp_id"],
        terminal_id=row["terminal_id"],
        stan=row["stan"],
        amount=row["amount"],
        rows=tuple(SettlementRow(r["iban"], r["amount"], r["payment_id"]) for r in row["rows"]),
        reason=VoidReason(row["reason"]),
        reason_text=row["reason_text"],
        requested_by=row["requested_by"],
        created_at=row["created_at"],
        status=RefundStatus(row["status"]),
        response_code=row["response_code"],
        rrn=row["rrn"],
        tracking_code=row["tracking_code"],
        instructed_at=row["instructed_at"],
        settled_at=row["settled_at"],
        claim_epoch=row["claim_epoch"],
        recovery_attempts=row["recovery_attempts"],
        next_recovery_at=row["next_recovery_at"],
    )


_INSTRUCT_REFUND = finishing_statement(
    """finished AS (
    UPDATE refunds SET status = 'instructed', rrn = $12, response_code = '00', tracking_code = $2,
                       instructed_at = $3, next_recovery_at = NULL
    WHERE id = $1 AND status = ANY($10::text[]) AND claim_epoch = $11
    RETURNING office_id, charge_id
)"""
)


async def instruct_refund(db, instructed: Refund, receipt: CancellationReceipt) -> bool:
    """Marks the refund instructed with the PSP's RRN, its cancellation receipt, chain head and outbox rows, all or
    nothing. False if the refund is no longer pending or was claimed since `instructed` was read; raises ChainMoved
    if another receipt took this sequence number."""
    return await finish_with_receipt(db, _INSTRUCT_REFUND, instructed, PENDING_REFUND_STATUSES, receipt, instructed.rrn)


REFUNDS = WayBackStore("refunds", PENDING_REFUND_STATUSES, refund_from_row, instruct_refund)
