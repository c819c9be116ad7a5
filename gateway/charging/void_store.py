"""The SQL of voids. Like a charge, a void costs two statements on its common path: one to store it (with its
idempotency key) before the reversal is sent, one to finish it: reversed with its cancellation receipt, chain head
and outbox rows, or refused. Every write about a pending void is fenced by its claim epoch."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.charging.store import RECOVERY_DUE, chain_moved_on_conflict
from gateway.core.voids import VOID_PENDING, Void, VoidReason, VoidStatus

PENDING_VOID_STATUSES = [s.value for s in VOID_PENDING]


class VoidExists(Exception):
    """The charge already has a void (another request stored one first)."""


_INSERT_VOID = """
WITH idem AS (
    INSERT INTO idempotency_keys (office_id, key, request_hash, void_id, created_at)
    VALUES ($3, $13, $14, $1, $11)
    ON CONFLICT (office_id, key) DO NOTHING
    RETURNING 1
)
INSERT INTO voids (id, charge_id, office_id, psp_id, amount, reason, reason_text, requested_by, status,
                   window_closes_at, created_at, next_recovery_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
WHERE EXISTS (SELECT 1 FROM idem)
RETURNING id
"""


async def insert_void(db, void: Void, idempotency_key: str, request_hash: bytes) -> bool:
    """Stores the void under its idempotency key: False if the key was already used; raises VoidExists if the
    charge already has a void (then nothing is stored, the key neither)."""
    try:
        stored = await db.fetchval(
            _INSERT_VOID,
            void.id,
            void.charge_id,
            void.office_id,
            void.psp_id,
            void.amount,
            void.reason.value,
            void.reason_text,
            void.requested_by,
            void.status.value,
            void.window_closes_at,
            void.created_at,
            void.next_recovery_at,
            idempotency_key,
            request_hash,
        )
    except asyncpg.UniqueViolationError as exc:
        raise VoidExists() from exc
    return stored is not None


def void_from_row(row: Mapping[str, Any]) -> Void:
    return Void(
        id=row["id"],
        charge_id=row["charge_id"],
        office_id=row["office_id"],
        psp_id=row["psp_id"],
        amount=row["amount"],
        reason=VoidReason(row["reason"]),
        reason_text=row["reason_text"],
        requested_by=row["requested_by"],
        window_closes_at=row["window_closes_at"],
        created_at=row["created_at"],
        status=VoidStatus(row["status"]),
        response_code=row["response_code"],
        tracking_code=row["tracking_code"],
        finalized_at=row["finalized_at"],
        claim_epoch=row["claim_epoch"],
        recovery_attempts=row["recovery_attempts"],
        next_recovery_at=row["next_recovery_at"],
    )


async def get_void(db, void_id: uuid.UUID) -> Void | None:
    row = await db.fetchrow("SELECT * FROM voids WHERE id = $1", void_id)
    return None if row is None else void_from_row(row)


async def void_of_charge(db, charge_id: uuid.UUID) -> Void | None:
    row = await db.fetchrow("SELECT * FROM voids WHERE charge_id = $1", charge_id)
    return None if row is None else void_from_row(row)


async def charge_settled(db, charge_id: uuid.UUID) -> bool:
    """Whether the charge's separate settle call went through (a settled purchase is no longer reversible)."""
    return bool(await db.fetchval("SELECT settled_at IS NOT NULL FROM charges WHERE id = $1", charge_id))


@dataclass(frozen=True)
class OriginalReceipt:
    signed: dict
    hash: str


async def original_receipt(db, office_id: str, charge_id: uuid.UUID, completed_at: datetime | None) -> OriginalReceipt:
    """The charge's receipt, issued at its completion: read from that month's partition alone."""
    row = await db.fetchrow(
        "SELECT signed, hash FROM receipts WHERE office_id = $1 AND charge_id = $2 AND kind = 'charge' "
        "AND issued_at = $3",
        office_id,
        charge_id,
        completed_at,
    )
    assert row is not None, f"charge {charge_id} is completed, so it has its receipt"
    return OriginalReceipt(row["signed"], row["hash"])


async def save_void_move(
    db, moved: Void, *, at: datetime, note: str | None = None, next_recovery_at: datetime | None = None
) -> bool:
    """Stores a pending void's move to `moved.status` (refused, or still pending as sent); False if the void was
    no longer pending or was claimed after `moved.claim_epoch` was read."""
    result = await db.execute(
        """UPDATE voids SET status = $2, response_code = coalesce($3, response_code),
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
        PENDING_VOID_STATUSES,
        moved.claim_epoch,
    )
    return result.endswith(" 1")


async def postpone_void(db, void_id: uuid.UUID, *, epoch: int, next_at: datetime, note: str) -> bool:
    result = await db.execute(
        "UPDATE voids SET next_recovery_at = $2, recovery_attempts = recovery_attempts + 1, last_psp_note = $3 "
        "WHERE id = $1 AND status = ANY($4::text[]) AND claim_epoch = $5",
        void_id,
        next_at,
        note,
        PENDING_VOID_STATUSES,
        epoch,
    )
    return result.endswith(" 1")


async def claim_due_voids(db, now: datetime, lease_until: datetime, limit: int) -> list[Void]:
    """Takes pending voids whose recovery time has come, under a lease and a new claim epoch (as for charges)."""
    rows = await db.fetch(
        f"""UPDATE voids v SET next_recovery_at = $2, claim_epoch = v.claim_epoch + 1
           FROM (SELECT id FROM voids
                 WHERE {RECOVERY_DUE.format(pending="$4", now="$1")}
                 ORDER BY next_recovery_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
           WHERE v.id = due.id
           RETURNING v.*""",
        now,
        lease_until,
        limit,
        PENDING_VOID_STATUSES,
    )
    return [void_from_row(row) for row in rows]


_COMPLETE_VOID = """
WITH v AS (
    UPDATE voids SET status = 'reversed', tracking_code = $2, finalized_at = $3, next_recovery_at = NULL
    WHERE id = $1 AND status = ANY($10::text[]) AND claim_epoch = $11
    RETURNING office_id, charge_id
), unsettled AS (
    DELETE FROM settle_calls s USING v WHERE s.charge_id = v.charge_id
    RETURNING 1
), head AS (
    INSERT INTO receipt_chain_heads AS h (office_id, last_seq, last_hash)
    SELECT office_id, $4, $5 FROM v
    ON CONFLICT (office_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash
        WHERE h.last_seq = EXCLUDED.last_seq - 1 AND h.last_hash = $6
    RETURNING office_id
), receipt AS (
    INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed, kind)
    SELECT head.office_id, $4, $2, v.charge_id, $3, $7, $5, $6, $8, 'cancellation' FROM head, v
    RETURNING 1
), outbox_rows AS (
    INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at, updated_at,
                        next_attempt_at, purpose)
    SELECT head.office_id, v.charge_id, m.channel, m.message_id, m.recipient, m.payload, $3, $3, $3, 'cancellation'
    FROM head, v, jsonb_to_recordset($9::jsonb) AS m(channel text, message_id text, recipient text, payload jsonb)
    RETURNING 1
)
SELECT (SELECT count(*) FROM v) AS completed,
       CASE WHEN (SELECT count(*) FROM v) = 1 AND (SELECT count(*) FROM head) = 0
            THEN pishkhan_abort('receipt chain head moved') ELSE 0 END AS aborted
"""


@dataclass(frozen=True)
class VoidCompletion:
    void_id: uuid.UUID
    reversed_at: datetime
    tracking_code: str
    seq: int
    receipt_hash: str
    prev_hash: str
    key_id: str
    signed_receipt: dict
    messages: list[dict]
    epoch: int


async def complete_void(db, c: VoidCompletion) -> bool:
    """Marks the void reversed with its cancellation receipt, chain head and outbox rows, and cancels a settle
    still due, all or nothing. False if the void is no longer pending or was claimed since `epoch`; raises
    ChainMoved if another receipt took this sequence number."""
    with chain_moved_on_conflict():
        row = await db.fetchrow(
            _COMPLETE_VOID,
            c.void_id,
            c.tracking_code,
            c.reversed_at,
            c.seq,
            c.receipt_hash,
            c.prev_hash,
            c.key_id,
            c.signed_receipt,
            c.messages,
            PENDING_VOID_STATUSES,
            c.epoch,
        )
    return row["completed"] == 1
