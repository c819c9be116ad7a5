"""What the gateway and every PSP adapter exchange: requests, replies, outcomes and a PSP's capabilities.

Plain values, shared by the domain rules, the charge path and the adapters (`psp_adapters/`). An adapter never
raises for a PSP answer or a network fault; it maps everything to an `Outcome`, so that the caller can tell an
explicit answer (approved, declined) from silence (unknown).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Outcome(enum.StrEnum):
    APPROVED = "approved"  # the PSP explicitly said yes
    DECLINED = "declined"  # the PSP explicitly said no (response_code tells why)
    UNKNOWN = "unknown"  # no usable answer: timeout, reset, garbled reply, host down


class TxnState(enum.StrEnum):
    """What the PSP says it holds for one transaction, as an inquiry reports it."""

    NOT_FOUND = "not_found"  # the PSP never received it
    PENDING = "pending"  # pushed to the terminal, the cardholder has not finished
    APPROVED = "approved"  # authorised, not yet verified
    VERIFIED = "verified"
    SETTLED = "settled"
    DECLINED = "declined"
    REVERSED = "reversed"
    UNKNOWN = "unknown"  # the inquiry itself got no usable answer


@dataclass(frozen=True)
class PspCapabilities:
    verify_deadline: timedelta  # the PSP reverses by itself if not verified by then
    settle_is_separate: bool  # True: verify, then a separate settle call
    already_verified_codes: frozenset[str]  # verify answers that mean "already verified" (success)
    reversal_window: timedelta  # how long after the purchase a reversal is accepted
    split_row_limit: int  # most settlement rows one payment may carry


@dataclass(frozen=True)
class SettlementRow:
    iban: str  # IR + 24 digits
    amount: int  # rials
    payment_id: str  # the agency's payment identifier, or "0" for an ordinary row


@dataclass(frozen=True)
class PurchaseRequest:
    terminal_id: str
    merchant_id: str
    amount: int  # rials, > 0
    stan: str  # 6 digits, unique per terminal per day
    reference: str  # the gateway's own reference for this charge
    transmitted_at: datetime  # UTC
    settlement_rows: tuple[SettlementRow, ...] = ()
    print_lines: tuple[str, ...] = ()  # lines the terminal prints on its slip


@dataclass(frozen=True)
class TxnRef:
    """Everything needed to address one earlier purchase in verify/settle/reverse/inquire."""

    terminal_id: str
    merchant_id: str
    stan: str
    amount: int
    reference: str
    transmitted_at: datetime
    rrn: str | None = None


@dataclass(frozen=True)
class PspReply:
    outcome: Outcome
    response_code: str | None = None  # e.g. "00", "51", "55", "61", "91", "99"
    rrn: str | None = None
    stan: str | None = None
    auth_code: str | None = None
    masked_pan: str | None = None  # first 6 + last 4 only; never a full card number
    state: TxnState | None = None  # set by inquire()
    detail: str | None = None  # a short human note for logs (never card data)
