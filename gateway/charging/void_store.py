"""The SQL of voids. Like a charge, a void costs two statements on its common path: one to store it (with its
idempotency key) before the reversal is sent, one to finish it: reversed with its cancellation receipt, chain head
and outbox rows, or refused. Every write about a pending void is fenced by its claim epoch."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from gateway.charging.way_back_store import CancellationReceipt, WayBackStore, finish_with_receipt, finishing_statement
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


async def charge_settled(db, charge_id: uuid.UUID) -> bool:
    """Whether the charge's separate settle call went through (a settled purchase is no longer reversible)."""
    return bool(await db.fetchval("SELECT settled_at IS NOT NULL FROM charges WHERE id = $1", charge_id))


_REVERSE_VOID = finishing_statement(
    """finished AS (
    UPDATE voids SET status = 'reversed', tracking_code = $2, finalized_at = $3, next_recovery_at = NULL
    WHERE id = $1 AND status = ANY($10::text[]) AND claim_epoch = $11
    RETURNING office_id, charge_id
), unsettled AS (
    DELETE FROM settle_calls s USING finished WHERE s.charge_id = finished.charge_id
    RETURNING 1
)"""
)


async def reverse_void(db, reversed_void: Void, receipt: CancellationReceipt) -> bool:
    """Marks the void reversed with its cancellation receipt, chain head and outbox rows, and cancels a settle
    still due, all or nothing. False if the void is no longer pending or was claimed since `reversed_void` was read;
    raises ChainMoved if another receipt took this sequence number."""
    return await finish_with_receipt(db, _REVERSE_VOID, reversed_void, PENDING_VOID_STATUSES, receipt)


VOIDS = WayBackStore("voids", PENDING_VOID_STATUSES, void_from_row, reverse_void)
