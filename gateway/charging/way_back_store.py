"""The SQL that voids and refunds share. Their tables keep a pending row alike (status, response_code,
last_psp_note, claim_epoch, recovery_attempts, next_recovery_at, finalized_at), so one statement of each kind serves
both: reading a row, a pending row's move, the recovery claim; and both finish in one statement that also issues the
cancellation receipt, advances the office's chain head and writes the outbox rows. What differs, the row itself, its
insert and the move that finishes it, is in gateway/charging/void_store.py and refund_store.py."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from gateway.charging.completion import ChainedReceipt
from gateway.charging.store import chain_moved_on_conflict, claim_due_rows
from gateway.core.refunds import Refund
from gateway.core.voids import Void

W = TypeVar("W", Void, Refund)  # a void or a refund: their tables keep a pending row alike


@dataclass(frozen=True)
class CancellationReceipt:
    """A signed cancellation receipt at its place in the office's chain, and the outbox rows that tell of it."""

    issued_at: datetime
    chained: ChainedReceipt
    messages: list[dict]


@dataclass(frozen=True)
class WayBackStore(Generic[W]):
    """The statements of one kind: `table` holds its rows, `pending` names its pending statuses, `from_row` reads a
    row, and `finish` stores the move the PSP's acceptance makes with its cancellation receipt."""

    table: str
    pending: list[str]
    from_row: Callable[[Mapping[str, Any]], W]
    finish: Callable[[Any, W, CancellationReceipt], Awaitable[bool]]

    async def get(self, db, row_id: uuid.UUID) -> W | None:
        row = await db.fetchrow(f"SELECT * FROM {self.table} WHERE id = $1", row_id)
        return None if row is None else self.from_row(row)

    async def of_charge(self, db, charge_id: uuid.UUID) -> W | None:
        row = await db.fetchrow(f"SELECT * FROM {self.table} WHERE charge_id = $1", charge_id)
        return None if row is None else self.from_row(row)

    async def save_move(
        self, db, moved: W, *, at: datetime, note: str | None = None, next_recovery_at: datetime | None = None
    ) -> bool:
        """Stores a pending row's move to `moved.status` (refused or failed, or still pending as sent); False if the
        row was no longer pending or was claimed after `moved.claim_epoch` was read."""
        result = await db.execute(
            f"""UPDATE {self.table} SET status = $2, response_code = coalesce($3, response_code),
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
            self.pending,
            moved.claim_epoch,
        )
        return result.endswith(" 1")

    async def postpone(self, db, row_id: uuid.UUID, *, epoch: int, next_at: datetime, note: str) -> bool:
        """Leaves a pending row pending until `next_at`; False if it is no longer the caller's."""
        result = await db.execute(
            f"UPDATE {self.table} SET next_recovery_at = $2, recovery_attempts = recovery_attempts + 1, "
            "last_psp_note = $3 WHERE id = $1 AND status = ANY($4::text[]) AND claim_epoch = $5",
            row_id,
            next_at,
            note,
            self.pending,
            epoch,
        )
        return result.endswith(" 1")

    async def claim_due(self, db, now: datetime, lease_until: datetime, limit: int) -> list[W]:
        """Takes pending rows whose recovery time has come, under a lease and a new claim epoch (as for charges)."""
        rows = await claim_due_rows(db, self.table, self.pending, now, lease_until, limit)
        return [self.from_row(row) for row in rows]


def finishing_statement(finished: str) -> str:
    """The statement that finishes a pending void or refund, all or nothing. `finished` is its first CTEs: the one
    named `finished` moves the row (id $1) out of the pending statuses ($10) under the claim epoch ($11) and returns
    its office_id and charge_id. Then the office's chain head advances from exactly the (sequence, hash) the
    cancellation receipt was signed against, the receipt and its outbox rows are inserted, and a head that moved
    undoes the whole statement. $2 to $9: the receipt's tracking code, issue time, sequence, hash, previous hash,
    signing key id, signed form and messages (`finish_with_receipt`); $12 on: whatever the first CTEs add."""
    return f"""
WITH {finished}, head AS (
    INSERT INTO receipt_chain_heads AS h (office_id, last_seq, last_hash)
    SELECT office_id, $4, $5 FROM finished
    ON CONFLICT (office_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash
        WHERE h.last_seq = EXCLUDED.last_seq - 1 AND h.last_hash = $6
    RETURNING office_id
), receipt AS (
    INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed, kind)
    SELECT head.office_id, $4, $2, finished.charge_id, $3, $7, $5, $6, $8, 'cancellation' FROM head, finished
    RETURNING 1
), outbox_rows AS (
    INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at, updated_at,
                        next_attempt_at, purpose)
    SELECT head.office_id, finished.charge_id, m.channel, m.message_id, m.recipient, m.payload, $3, $3, $3,
           'cancellation'
    FROM head, finished,
         jsonb_to_recordset($9::jsonb) AS m(channel text, message_id text, recipient text, payload jsonb)
    RETURNING 1
)
SELECT (SELECT count(*) FROM finished) AS finished,
       CASE WHEN (SELECT count(*) FROM finished) = 1 AND (SELECT count(*) FROM head) = 0
            THEN pishkhan_abort('receipt chain head moved') ELSE 0 END AS aborted
"""


async def finish_with_receipt(
    db, statement: str, finished: Void | Refund, pending: list[str], receipt: CancellationReceipt, *more: object
) -> bool:
    """Runs a `finishing_statement` for the row `finished` was read as; `more` are its $12 on. False if the row is no
    longer pending or was claimed since; raises ChainMoved if another receipt took this sequence number."""
    with chain_moved_on_conflict():
        row = await db.fetchrow(
            statement,
            finished.id,
            receipt.chained.tracking_code,
            receipt.issued_at,
            receipt.chained.seq,
            receipt.chained.hash,
            receipt.chained.prev_hash,
            receipt.chained.key_id,
            receipt.chained.signed,
            receipt.messages,
            pending,
            finished.claim_epoch,
            *more,
        )
    return row["finished"] == 1


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
