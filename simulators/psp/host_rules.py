"""The simulated PSP host's rules, the same whichever protocol a request arrives by: it pushes purchases to the
fleet's terminals, keeps the ledger and decides every answer. The front ends (`iso_host`, `pcpos_host`) only
translate their protocol to these calls and back.

Rules: a busy terminal answers 09; verify turns approved into verified and a repeated verify answers the PSP's
"already verified" code; an approved purchase not verified within the deadline is reversed by the host itself;
reversal is idempotent, refused (12) once settled or once the reversal window has passed, and a reversal that
arrives while the cardholder is still at the terminal voids the purchase (its outcome is then never recorded nor
answered); reversing a declined purchase has nothing to undo and answers 00; settle needs a verified purchase.
A refund (past the reversal window) needs a verified or settled purchase that carried settlement rows; it gets an
RRN of its own, is idempotent (the same refund again), and a refunded purchase is no longer reversible.
Codes are the switch's (`psp_adapters.shetab`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stdnum.iso7064 import mod_97_10

from gateway.core.psp import SettlementRow, TxnState
from psp_adapters import shetab
from simulators.psp.faults import Fault, FaultKind, FaultPlan, Operation
from simulators.psp.ledger import Ledger, LedgerEntry
from simulators.psp.terminals import TerminalBusy, TerminalFleet

log = logging.getLogger(__name__)

_REVERSIBLE = (TxnState.PENDING, TxnState.APPROVED, TxnState.VERIFIED)
# Nothing was charged, or it is already undone: a reversal has nothing left to do and says so with success.
_NOTHING_TO_REVERSE = (TxnState.DECLINED, TxnState.REVERSED)
_REVERSED = frozenset({TxnState.REVERSED})
_REFUNDABLE = (TxnState.VERIFIED, TxnState.SETTLED)
# A late reply with no delay of its own waits at most this long for the reversal.
LATE_REPLY_LIMIT_S = 60.0


@dataclass(frozen=True)
class PurchaseOrder:
    """A purchase as a front end hands it over."""

    terminal_id: str
    merchant_id: str
    stan: str
    transmitted: str  # the request's transmission date-time, MMDDhhmmss UTC
    amount: int
    reference: str
    settlement_rows: tuple[SettlementRow, ...]


@dataclass(frozen=True)
class HostAnswer:
    code: str
    entry: LedgerEntry | None = None
    refund_rrn: str | None = None  # a refund's own retrieval number


class PspHost:
    def __init__(
        self,
        *,
        psp_id: str,
        ledger: Ledger,
        fleet: TerminalFleet,
        faults: FaultPlan,
        already_verified_code: str,
        verify_deadline_s: float,
        reversal_window_s: float,
        split_row_limit: int,
    ) -> None:
        self.psp_id = psp_id
        self.ledger = ledger
        self.fleet = fleet
        self.faults = faults
        self.already_verified_code = already_verified_code
        self._verify_deadline_s = verify_deadline_s
        self._reversal_window = timedelta(seconds=reversal_window_s)
        self._split_row_limit = split_row_limit
        self._random = random.Random()
        self._rrn_sequence = 0

    def resume(self) -> None:
        """After a restart on a kept ledger: approved purchases keep their verify deadline (counted from their
        approval), and retrieval numbers carry on after the highest one issued."""
        loop = asyncio.get_running_loop()
        now = datetime.now(UTC)
        for entry in self.ledger.held():
            for rrn in (entry.rrn, (entry.refund or {}).get("rrn")):
                if rrn:
                    self._rrn_sequence = max(self._rrn_sequence, int(rrn[-6:]))
            if entry.state is TxnState.APPROVED:
                approved_for = (now - datetime.fromisoformat(entry.updated_at)).total_seconds()
                loop.call_later(max(0.0, self._verify_deadline_s - approved_for), self._auto_reverse, entry)

    async def purchase(self, order: PurchaseOrder) -> HostAnswer | None:
        """The purchase's answer once the cardholder is done, or None when none is ever given (the terminal
        never reports back, or the purchase was reversed while the cardholder was at the terminal)."""
        existing = self.ledger.find(order.terminal_id, order.stan, order.transmitted)
        if existing is not None:
            return HostAnswer(existing.response_code or shetab.BUSY, existing)
        entry = self.ledger.open(
            LedgerEntry(
                terminal_id=order.terminal_id,
                merchant_id=order.merchant_id,
                stan=order.stan,
                transmitted=order.transmitted,
                amount=order.amount,
                reference=order.reference,
                settlement_rows=[
                    {"iban": row.iban, "amount": row.amount, "payment_id": row.payment_id}
                    for row in order.settlement_rows
                ],
            )
        )
        refusal = self._refusal(order.amount, order.settlement_rows)
        if refusal is not None:
            code, note = refusal
            self.ledger.move(entry, TxnState.DECLINED, note, response_code=code)
            return HostAnswer(code, entry)
        unreachable = self.faults.take(order.terminal_id, Operation.PURCHASE, {FaultKind.TERMINAL_UNREACHABLE})
        if unreachable is not None:
            await asyncio.sleep(unreachable.delay_ms / 1000)
            self.ledger.move(
                entry, TxnState.DECLINED, "the terminal cannot be reached", response_code=shetab.TERMINAL_UNREACHABLE
            )
            return HostAnswer(shetab.TERMINAL_UNREACHABLE, entry)
        try:
            card = await self.fleet.serve_cardholder(order.terminal_id)
        except TerminalBusy:
            self.ledger.move(entry, TxnState.DECLINED, "terminal busy with another card", response_code=shetab.BUSY)
            return HostAnswer(shetab.BUSY, entry)
        if not self.ledger.holds(entry) or entry.state is not TxnState.PENDING:
            return None  # reversed (or reset) while the cardholder was at the terminal
        answer = card.answer
        if answer is None:  # NO_ANSWER: the terminal never reports back
            return None
        masked_pan = shetab.mask_pan(card.pan)
        if answer == shetab.APPROVED:
            self.ledger.move(
                entry,
                TxnState.APPROVED,
                response_code=shetab.APPROVED,
                rrn=self._next_rrn(),
                auth_code=f"{self._random.randrange(10**6):06d}",
                masked_pan=masked_pan,
            )
            asyncio.get_running_loop().call_later(self._verify_deadline_s, self._auto_reverse, entry)
        else:
            why = "cancelled by the cardholder" if answer == shetab.CANCELLED else None
            self.ledger.move(entry, TxnState.DECLINED, why, response_code=answer, masked_pan=masked_pan)
        return HostAnswer(answer, entry)

    def verify(self, named: LedgerEntry | None, amount: int) -> HostAnswer:
        entry = _original(named, amount)
        if isinstance(entry, HostAnswer):
            return entry
        if entry.state is TxnState.APPROVED:
            self.ledger.move(entry, TxnState.VERIFIED)
            return HostAnswer(shetab.APPROVED, entry)
        if entry.state in (TxnState.VERIFIED, TxnState.SETTLED):
            return HostAnswer(self.already_verified_code, entry)
        return HostAnswer(shetab.INVALID_TRANSACTION, entry)

    def settle(self, named: LedgerEntry | None, amount: int) -> HostAnswer:
        entry = _original(named, amount)
        if isinstance(entry, HostAnswer):
            return entry
        if entry.state is TxnState.VERIFIED:
            self.ledger.move(entry, TxnState.SETTLED)
        return HostAnswer(shetab.APPROVED if entry.state is TxnState.SETTLED else shetab.INVALID_TRANSACTION, entry)

    def reverse(self, named: LedgerEntry | None, amount: int) -> HostAnswer:
        entry = _original(named, amount)
        if isinstance(entry, HostAnswer):
            return entry
        if entry.refund is not None:
            return HostAnswer(shetab.INVALID_TRANSACTION, entry)
        if entry.state in _NOTHING_TO_REVERSE:
            return HostAnswer(shetab.APPROVED, entry)
        if entry.state not in _REVERSIBLE:
            return HostAnswer(shetab.INVALID_TRANSACTION, entry)
        if entry.state is not TxnState.PENDING and self._past_reversal_window(entry):
            return HostAnswer(shetab.INVALID_TRANSACTION, entry)
        self.ledger.move(entry, TxnState.REVERSED, "reversal requested")
        return HostAnswer(shetab.APPROVED, entry)

    def refund(self, named: LedgerEntry | None, amount: int) -> HostAnswer:
        entry = _original(named, amount)
        if isinstance(entry, HostAnswer):
            return entry
        if entry.refund is None:
            if entry.state not in _REFUNDABLE or not entry.settlement_rows:
                return HostAnswer(shetab.INVALID_TRANSACTION, entry)
            refund = {"rrn": self._next_rrn(), "at": datetime.now(UTC).isoformat(timespec="milliseconds")}
            self.ledger.move(entry, entry.state, "refund instructed", refund=refund)
        assert entry.refund is not None
        return HostAnswer(shetab.APPROVED, entry, refund_rrn=entry.refund["rrn"])

    async def hold_reply(self, fault: Fault, entry: LedgerEntry | None) -> None:
        """The wait a SLOW_REPLY or LATE_REPLY fault puts before a reply."""
        if fault.kind is FaultKind.SLOW_REPLY:
            await asyncio.sleep(fault.delay_ms / 1000)
        elif fault.kind is FaultKind.LATE_REPLY:
            limit = fault.delay_ms / 1000 if fault.delay_ms else LATE_REPLY_LIMIT_S
            try:
                async with asyncio.timeout(limit):
                    if entry is not None:
                        await self.ledger.wait_for_state(entry, _REVERSED)
                    else:
                        await asyncio.sleep(limit)
            except TimeoutError:
                log.info("late reply sent after %g s without a reversal", limit)

    def reset(self) -> None:
        self.ledger.reset()
        self.fleet.reset()
        self.faults.clear()

    def _refusal(self, amount: int, rows: tuple[SettlementRow, ...]) -> tuple[str, str] | None:
        if amount == 0:
            return shetab.INVALID_AMOUNT, "zero amount"
        if len(rows) > self._split_row_limit:
            return shetab.FORMAT_ERROR, f"more than {self._split_row_limit} settlement rows"
        if not all(_is_sheba(row.iban) for row in rows):
            return shetab.FORMAT_ERROR, "invalid IBAN in the settlement rows"
        if rows and sum(row.amount for row in rows) != amount:
            return shetab.INVALID_AMOUNT, "settlement rows do not add up to the amount"
        return None

    def _past_reversal_window(self, entry: LedgerEntry) -> bool:
        return datetime.now(UTC) > datetime.fromisoformat(entry.created_at) + self._reversal_window

    def _auto_reverse(self, entry: LedgerEntry) -> None:
        if self.ledger.holds(entry) and entry.state is TxnState.APPROVED:
            self.ledger.move(entry, TxnState.REVERSED, "not verified within the deadline")

    def _next_rrn(self) -> str:
        """Year digit, day of the year, hour, then a six-digit sequence, as switches number retrievals."""
        now = datetime.now(UTC)
        self._rrn_sequence = (self._rrn_sequence + 1) % 10**6
        return f"{now.year % 10}{now.timetuple().tm_yday:03d}{now.hour:02d}{self._rrn_sequence:06d}"


def _original(entry: LedgerEntry | None, amount: int) -> LedgerEntry | HostAnswer:
    """The purchase a follow-up names, or the answer that says why the follow-up cannot act on it."""
    if entry is None:
        return HostAnswer(shetab.NOT_FOUND)
    if entry.amount != amount:
        return HostAnswer(shetab.INVALID_AMOUNT)
    return entry


def _is_sheba(number: str) -> bool:
    """An Iranian IBAN (شبا): IR and 24 digits, with valid ISO 7064 mod 97-10 check digits.
    (python-stdnum's IBAN registry has no entry for Iran, so its `iban` module rejects every one.)"""
    return re.fullmatch(r"IR\d{24}", number) is not None and mod_97_10.is_valid(number[4:] + number[:4])
