"""A charge and its state machine (DESIGN.md): created → sent → authorized → verified → completed, with the exits
declined, cancelled, expired, reversed and failed. Only an explicit PSP answer moves a charge to a final state.

`Charge` is the one form a charge takes from its insert to the answer; every change of state goes through
`Charge.moved_to`, which refuses a move the machine does not allow.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.core.identity import IdentityCheck
from gateway.core.psp import SettlementRow, TxnRef
from gateway.core.recipients import RecipientId, RecipientKind


class Status(StrEnum):
    CREATED = "created"  # tariff checked, persisted before any PSP call
    SENT = "sent"  # pushed to the terminal; the outcome is not known yet
    AUTHORIZED = "authorized"  # the PSP approved; not yet verified
    VERIFIED = "verified"  # verified with the PSP; the receipt is not yet issued
    COMPLETED = "completed"  # receipt signed and SMS queued in the same statement
    DECLINED = "declined"
    CANCELLED = "cancelled"  # by the cardholder (99)
    EXPIRED = "expired"  # the PSP never received it or the cardholder never finished, and it is gone
    REVERSED = "reversed"
    FAILED = "failed"


PENDING = frozenset({Status.CREATED, Status.SENT, Status.AUTHORIZED, Status.VERIFIED})
FINAL = frozenset(Status) - PENDING

# A pending charge only moves forward (it may stay where it is, as when a verify goes unanswered again); a final
# charge never moves.
_PENDING_ORDER = (Status.CREATED, Status.SENT, Status.AUTHORIZED, Status.VERIFIED)
_ALLOWED: Mapping[Status, frozenset[Status]] = {
    state: frozenset(Status) - frozenset(_PENDING_ORDER[:position]) - {Status.CREATED}
    for position, state in enumerate(_PENDING_ORDER)
}

CARDHOLDER_CANCELLED_CODE = "99"


class IllegalTransition(ValueError):
    """A move the charge state machine does not allow (a bug, never a PSP answer)."""


def status_for_decline(response_code: str | None) -> Status:
    return Status.CANCELLED if response_code == CARDHOLDER_CANCELLED_CODE else Status.DECLINED


@dataclass(frozen=True)
class Recipient:
    name: str
    identifier: str  # the identifier of its kind (gateway/core/recipients.py)
    mobile: str
    kind: RecipientKind = RecipientKind.INDIVIDUAL

    @property
    def id(self) -> RecipientId:
        return RecipientId(self.kind, self.identifier)


@dataclass(frozen=True)
class ExtraItem:
    code: str
    quantity: int


@dataclass(frozen=True)
class Charge:
    id: uuid.UUID
    office_id: str
    terminal_id: str
    merchant_id: str
    psp_id: str
    operator_id: str
    service_code: str
    quantity: int
    extras: tuple[ExtraItem, ...]
    recipient: Recipient
    amount: int  # rials
    breakdown: Mapping[str, Any]
    tariff_reference: str
    settlement_rows: tuple[SettlementRow, ...]
    verify_deadline: datetime
    created_at: datetime
    status: Status = Status.CREATED
    stan: str | None = None
    rrn: str | None = None
    auth_code: str | None = None
    masked_pan: str | None = None
    decline_code: str | None = None
    tracking_code: str | None = None
    completed_at: datetime | None = None
    receipt: Mapping[str, Any] | None = None
    identity: IdentityCheck | None = None  # the identity inquiry made before the card was pushed
    claim_epoch: int = 0  # the recovery claim this copy was read under (see docs/money-safety.md)
    recovery_attempts: int = 0
    next_recovery_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    def moved_to(self, target: Status, **changes: Any) -> Charge:
        """This charge in state `target` with `changes` (PSP references and the like); refuses a move the state
        machine does not allow. PSP references already known are kept when the change carries none."""
        if target not in _ALLOWED.get(self.status, frozenset()):
            raise IllegalTransition(f"charge {self.id}: {self.status} → {target} is not a move of the state machine")
        kept = {name: value for name, value in changes.items() if value is not None or name not in _PSP_REFERENCES}
        return dataclasses.replace(self, status=target, **kept)

    def txn_ref(self) -> TxnRef:
        """How the PSP knows this purchase, for verify, settle, reverse and inquiry."""
        if self.stan is None:
            raise ValueError(f"charge {self.id} has no STAN: it was never stored")
        return TxnRef(
            terminal_id=self.terminal_id,
            merchant_id=self.merchant_id,
            stan=self.stan,
            amount=self.amount,
            reference=str(self.id),
            transmitted_at=self.created_at,
            rrn=self.rrn,
        )


_PSP_REFERENCES = frozenset({"rrn", "auth_code", "masked_pan", "decline_code"})
