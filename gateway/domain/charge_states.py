"""The charge state machine (DESIGN.md): created → sent → authorized → verified → completed, with the exits
declined, cancelled, expired, reversed and failed. Only an explicit PSP answer moves a charge to a final state."""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    CREATED = "created"        # tariff checked, persisted before any PSP call
    SENT = "sent"              # pushed to the terminal; the outcome is not known yet
    AUTHORIZED = "authorized"  # the PSP approved; not yet verified
    VERIFIED = "verified"      # verified with the PSP; the receipt is not yet issued
    COMPLETED = "completed"    # receipt signed and SMS queued in the same statement
    DECLINED = "declined"
    CANCELLED = "cancelled"    # by the cardholder (99)
    EXPIRED = "expired"        # the PSP never received it or the cardholder never finished, and it is gone
    REVERSED = "reversed"
    FAILED = "failed"


PENDING = frozenset({Status.CREATED, Status.SENT, Status.AUTHORIZED, Status.VERIFIED})
FINAL = frozenset(Status) - PENDING

_ALLOWED = {
    Status.CREATED: {Status.SENT, Status.AUTHORIZED, Status.VERIFIED, Status.COMPLETED, Status.DECLINED,
                     Status.CANCELLED, Status.EXPIRED, Status.REVERSED, Status.FAILED},
    Status.SENT: {Status.AUTHORIZED, Status.VERIFIED, Status.COMPLETED, Status.DECLINED, Status.CANCELLED,
                  Status.EXPIRED, Status.REVERSED, Status.FAILED},
    Status.AUTHORIZED: {Status.VERIFIED, Status.COMPLETED, Status.REVERSED, Status.FAILED},
    Status.VERIFIED: {Status.COMPLETED, Status.REVERSED},
}

CARDHOLDER_CANCELLED_CODE = "99"


def can_move(current: Status, target: Status) -> bool:
    return target in _ALLOWED.get(current, set())


def status_for_decline(response_code: str | None) -> Status:
    return Status.CANCELLED if response_code == CARDHOLDER_CANCELLED_CODE else Status.DECLINED


def http_status_for(status: Status) -> int:
    """What POST /v1/charges answers for a charge in this state."""
    if status is Status.COMPLETED:
        return 201
    if status in (Status.DECLINED, Status.CANCELLED):
        return 402
    if status in PENDING:
        return 202
    return 502
