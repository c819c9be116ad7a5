"""A refund: returning a completed charge's fee through settlement once its PSP no longer reverses it, and its state
machine. Pure.

requested ──PSP accepted the instruction──▶ instructed ──its lines in a settlement file──▶ settled
    │   └──PSP refused it─────────────────▶ failed
    └──no usable answer──▶ sent ──(recovery sends it again: idempotent at the PSP)──▶ instructed / failed

`requested` and `sent` are pending and owned, like a pending void, by whoever holds the refund's claim epoch. The
cancellation receipt is issued with `instructed`: the PSP has taken the instruction to return the money to the card,
debited from the same accounts the charge's split settlement credited. No cash is ever paid out.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.core.charge import Charge, Status
from gateway.core.errors import ChargeAlreadyRefunded, ChargeAlreadyVoided, ChargeNotCompleted, VoidWindowOpen
from gateway.core.psp import SettlementRow
from gateway.core.voids import Void, VoidReason, VoidStatus


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # stored before the instruction is sent to the PSP
    SENT = "sent"  # the instruction got no usable answer; recovery sends it again
    INSTRUCTED = "instructed"  # the PSP accepted it; the cancellation receipt is issued; settlement pending
    SETTLED = "settled"  # a PSP settlement file carried its lines, each matching its row
    FAILED = "failed"  # the PSP refused it (the purchase is not one it holds the money of)


REFUND_PENDING = frozenset({RefundStatus.REQUESTED, RefundStatus.SENT})
# Accepted by the PSP: the money is on its way back to the card (instructed) or back (settled).
REFUND_ACCEPTED = frozenset({RefundStatus.INSTRUCTED, RefundStatus.SETTLED})


@dataclass(frozen=True)
class Refund:
    id: uuid.UUID
    charge_id: uuid.UUID
    office_id: str
    psp_id: str
    terminal_id: str
    stan: str
    amount: int  # rials returned to the card: always the charge's whole amount
    rows: tuple[SettlementRow, ...]  # the charge's split settlement rows, each to be taken back whole
    reason: VoidReason
    reason_text: str
    requested_by: str
    created_at: datetime
    status: RefundStatus = RefundStatus.REQUESTED
    response_code: str | None = None
    rrn: str | None = None  # the PSP's retrieval number of the refund (its settlement lines carry it)
    tracking_code: str | None = None  # of the cancellation receipt
    instructed_at: datetime | None = None
    settled_at: datetime | None = None
    claim_epoch: int = 0
    recovery_attempts: int = 0
    next_recovery_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status in REFUND_PENDING

    def moved_to(self, target: RefundStatus, **changes: object) -> Refund:
        if not self.pending:
            raise ValueError(f"refund {self.id} is {self.status}: only a pending refund moves here")
        return dataclasses.replace(self, status=target, **changes)  # type: ignore[arg-type]


def refund_rows(charge: Charge) -> tuple[SettlementRow, ...]:
    """The rows a refund takes back: every row of the charge's split settlement (agency shares and the office's),
    whole, so they add up to the amount to the rial. A charge without rows has nothing to take back from."""
    rows = charge.settlement_rows
    if not rows or sum(row.amount for row in rows) != charge.amount:
        raise ValueError(f"charge {charge.id}: its settlement rows do not add up to its amount")
    return rows


def assess_refund(
    charge: Charge,
    void: Void | None,
    existing: Refund | None,
    *,
    settled: bool,
    now: datetime,
    window_closes_at: datetime,
    psp_timeout: timedelta,
) -> None:
    """Raises the named error of a refund that must not be instructed; returns when it may go to the PSP.

    A refund is the way back only where a void is not: the PSP refused the void, the purchase is settled, or the
    reversal window is closed (by the same margin `voids.assess_void` keeps). A charge is refunded once, and never
    after a void that returned (or may still return) its money."""
    if existing is not None:
        raise ChargeAlreadyRefunded(details={"refund_id": str(existing.id), "status": existing.status.value})
    if charge.status is not Status.COMPLETED:
        raise ChargeNotCompleted("Only a completed charge can be refunded.", details={"status": charge.status.value})
    if void is not None and void.status is not VoidStatus.REFUSED:
        raise ChargeAlreadyVoided(details={"void_id": str(void.id), "status": void.status.value})
    void_still_possible = void is None and not settled and now + psp_timeout < window_closes_at
    if void_still_possible:
        raise VoidWindowOpen(
            details={"window_closes_at": window_closes_at.isoformat().replace("+00:00", "Z"), "next_step": "void"}
        )
