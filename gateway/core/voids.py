"""A void: undoing a completed charge by a PSP reversal, and its state machine. Pure.

requested ──reversal approved──▶ reversed   (cancellation receipt + SMS + Iran Poosheh, one statement)
    │  └──reversal refused─────▶ refused    (the PSP keeps the money: a refund through settlement instead)
    └──no usable answer──▶ sent ──(recovery: inquiry, then reversal)──▶ reversed / refused

`requested` and `sent` are pending and owned, like a pending charge, by whoever holds the void's claim epoch.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.core.charge import Charge, Status
from gateway.core.errors import ChargeAlreadyVoided, ChargeNotCompleted, VoidWindowClosed
from gateway.core.psp import TxnState


class VoidReason(StrEnum):
    AGENCY_SYSTEM_DOWN = "agency_system_down"
    WRONG_SERVICE = "wrong_service"
    SERVICE_NOT_DELIVERED = "service_not_delivered"
    DUPLICATE_PAYMENT = "duplicate_payment"
    OTHER = "other"


# The reason as the cancellation receipt and the SMS print it.
REASON_LABELS: dict[VoidReason, str] = {
    VoidReason.AGENCY_SYSTEM_DOWN: "قطع سامانه دستگاه ارایه‌دهنده خدمت",
    VoidReason.WRONG_SERVICE: "انتخاب نادرست خدمت",
    VoidReason.SERVICE_NOT_DELIVERED: "عدم ارایه خدمت به خدمت‌گیرنده",
    VoidReason.DUPLICATE_PAYMENT: "پرداخت تکراری",
    VoidReason.OTHER: "سایر",
}


class VoidStatus(StrEnum):
    REQUESTED = "requested"  # stored before the reversal is sent
    SENT = "sent"  # the reversal got no usable answer; recovery finds out by inquiry
    REVERSED = "reversed"  # the PSP reversed it; the cancellation receipt is issued
    REFUSED = "refused"  # the PSP refused the reversal (window closed, settled): refund instead


VOID_PENDING = frozenset({VoidStatus.REQUESTED, VoidStatus.SENT})


@dataclass(frozen=True)
class Void:
    id: uuid.UUID
    charge_id: uuid.UUID
    office_id: str
    psp_id: str
    amount: int  # rials returned to the card
    reason: VoidReason
    reason_text: str
    requested_by: str
    window_closes_at: datetime
    created_at: datetime
    status: VoidStatus = VoidStatus.REQUESTED
    response_code: str | None = None
    tracking_code: str | None = None  # of the cancellation receipt
    finalized_at: datetime | None = None
    claim_epoch: int = 0
    recovery_attempts: int = 0
    next_recovery_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status in VOID_PENDING

    def moved_to(self, target: VoidStatus, **changes: object) -> Void:
        if not self.pending:
            raise ValueError(f"void {self.id} is {self.status}: a final void never moves")
        return dataclasses.replace(self, status=target, **changes)  # type: ignore[arg-type]


def window_closes_at(charge: Charge, reversal_window: timedelta) -> datetime:
    """The PSP reverses a purchase until this long after it was sent (the charge's creation)."""
    return charge.created_at + reversal_window


def assess_void(
    charge: Charge, existing: Void | None, *, settled: bool, now: datetime, closes_at: datetime, psp_timeout: timedelta
) -> None:
    """Raises the named error of a void that must not be sent; returns when the reversal may go to the PSP.
    A reversal that could reach the PSP only after its window is not sent: it would be refused anyway."""
    if existing is not None:
        if existing.status is VoidStatus.REFUSED:
            raise VoidWindowClosed(details=refund_details(existing.window_closes_at))
        raise ChargeAlreadyVoided(details={"void_id": str(existing.id), "status": existing.status.value})
    if charge.status is not Status.COMPLETED:
        raise ChargeNotCompleted(details={"status": charge.status.value})
    if settled or now + psp_timeout >= closes_at:
        raise VoidWindowClosed(details=refund_details(closes_at, settled=settled))


def refund_details(closes_at: datetime, *, settled: bool = False) -> dict[str, object]:
    return {
        "window_closed_at": closes_at.isoformat().replace("+00:00", "Z"),
        "settled": settled,
        "next_step": "refund",
    }


class VoidAction(StrEnum):
    COMPLETE = "complete"  # the PSP holds it reversed: issue the cancellation receipt
    REVERSE = "reverse"  # the PSP still holds the money: send the (idempotent) reversal
    MARK_REFUSED = "mark_refused"  # the PSP settled it: it can no longer be reversed
    RETRY_LATER = "retry_later"


def decide_void(state: TxnState) -> VoidAction:
    """What recovery does with a pending void, from what an inquiry says the PSP holds for the original purchase.
    Only an explicit answer finalises; a state a completed charge cannot be in (declined, not found) is left
    pending for the conservation check to report, never guessed."""
    if state is TxnState.REVERSED:
        return VoidAction.COMPLETE
    if state in (TxnState.APPROVED, TxnState.VERIFIED):
        return VoidAction.REVERSE
    if state is TxnState.SETTLED:
        return VoidAction.MARK_REFUSED
    return VoidAction.RETRY_LATER
