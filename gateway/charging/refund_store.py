"""The SQL of refunds. Like a void, a refund costs two statements on its common path: one to store it (with its
idempotency key) before the instruction is sent, one to finish it: instructed with its cancellation receipt, chain
head and outbox rows, or failed. Every write about a pending refund is fenced by its claim epoch."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.charging.store import RECOVERY_DUE, chain_moved_on_conflict
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


async def get_refund(db, refund_id: uuid.UUID) -> Refund | None:
    row = await db.fetchrow("SELECT * FROM refunds WHERE id = $1", refund_id)
    return None if row is None else refund_from_row(row)


async def refund_of_charge(db, charge_id: uuid.UUID) -> Refund | None:
    row = await db.fetchrow("SELECT * FROM refunds WHERE charge_id = $1", charge_id)
    return None if row is None else refund_from_row(row)


async def save_refund_move(
    db, moved: Refund, *, at: datetime, note: str | None = None, next_recovery_at: datetime | None = None
) -> bool:
    """Stores a pending refund's move to `moved.status` (failed, or still pending as sent); False if the refund
    was no longer pending or was claimed after `moved.claim_epoch` was read."""
    result = await db.execute(
        """UPDATE refunds SET status = $2, response_code = coalesce($3, response_code),
               last_psp_note = coalesce($4, last_psp_note), next_recovery_at = $5,
               recovery_attempts = recovery_attempts + CASE WHEN $2 = ANY($7::text[]) THEN 1 ELSE 0 END,
               finalized_at = CASE WHEN $2 = ANY($7::text[]) THEN NULL ELSE $6::timestamptz END
           WHERE id = $1 AND status = ANY($7::text[]) AND claim_epoch = $8""",
        moved.id,
        moved.status.value,
        moved.response_code,
        note,
        next_recovery_at,
        at,
        PENDING_REFUND_STATUSES,
        moved.claim_epoch,
    )
    return result.endswith(" 1")


async def claim_due_refunds(db, now: datetime, lease_until: datetime, limit: int) -> list[Refund]:
    """Takes pending refunds whose recovery time has come, under a lease and a new claim epoch (as for voids)."""
    rows = await db.fetch(
        f"""UPDATE refunds f SET next_recovery_at = $2, claim_epoch = f.claim_epoch + 1
           FROM (SELECT id FROM refunds
                 WHERE {RECOVERY_DUE.format(pending="$4", now="$1")}
                 ORDER BY next_recovery_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
           WHERE f.id = due.id
           RETURNING f.*""",
        now,
        lease_until,
        limit,
        PENDING_REFUND_STATUSES,
    )
    return [refund_from_row(row) for row in rows]


_INSTRUCT_REFUND = """
WITH f AS (
    UPDATE refunds SET status = 'instructed', rrn = $12, response_code = '00', tracking_code = $2,
                       instructed_at = $3, next_recovery_at = NULL
    WHERE id = $1 AND status = ANY($10::text[]) AND claim_epoch = $11
    RETURNING office_id, charge_id
), head AS (
    INSERT INTO receipt_chain_heads AS h (office_id, last_seq, last_hash)
    SELECT office_id, $4, $5 FROM f
    ON CONFLICT (office_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash
        WHERE h.last_seq = EXCLUDED.last_seq - 1 AND h.last_hash = $6
    RETURNING office_id
), receipt AS (
    INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed, kind)
    SELECT head.office_id, $4, $2, f.charge_id, $3, $7, $5, $6, $8, 'cancellation' FROM head, f
    RETURNING 1
), outbox_rows AS (
    INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at, updated_at,
                        next_attempt_at, purpose)
    SELECT head.office_id, f.charge_id, m.channel, m.message_id, m.recipient, m.payload, $3, $3, $3, 'cancellation'
    FROM head, f, jsonb_to_recordset($9::jsonb) AS m(channel text, message_id text, recipient text, payload jsonb)
    RETURNING 1
)
SELECT (SELECT count(*) FROM f) AS instructed,
       CASE WHEN (SELECT count(*) FROM f) = 1 AND (SELECT count(*) FROM head) = 0
            THEN pishkhan_abort('receipt chain head moved') ELSE 0 END AS aborted
"""


@dataclass(frozen=True)
class RefundInstructed:
    refund_id: uuid.UUID
    rrn: str
    instructed_at: datetime
    tracking_code: str
    seq: int
    receipt_hash: str
    prev_hash: str
    key_id: str
    signed_receipt: dict
    messages: list[dict]
    epoch: int


async def instruct_refund(db, c: RefundInstructed) -> bool:
    """Marks the refund instructed with the PSP's RRN, its cancellation receipt, chain head and outbox rows, all or
    nothing. False if the refund is no longer pending or was claimed since `epoch`; raises ChainMoved if another
    receipt took this sequence number."""
    with chain_moved_on_conflict():
        row = await db.fetchrow(
            _INSTRUCT_REFUND,
            c.refund_id,
            c.tracking_code,
            c.instructed_at,
            c.seq,
            c.receipt_hash,
            c.prev_hash,
            c.key_id,
            c.signed_receipt,
            c.messages,
            PENDING_REFUND_STATUSES,
            c.epoch,
            c.rrn,
        )
    return row["instructed"] == 1
