"""The simulated PSP host's ISO 8583 side: takes requests from gateways, pushes purchases to the fleet's terminals,
keeps the ledger and answers as `psp_adapters.iso8583_spec` describes.

Rules it enforces: a busy terminal answers 09; verify turns approved into verified and a repeated verify answers the
PSP's "already verified" code; an approved purchase not verified within the deadline is reversed by the host
itself; reversal is idempotent and refused (12) once settled, and a reversal that arrives while the cardholder is
still at the terminal voids the purchase (its outcome is then never recorded nor answered); reversing a declined
purchase has nothing to undo and answers 00; settle needs a verified purchase. Requests the host cannot parse
(missing fields, currency other than 364, bad settlement rows) answer 30 and never reach the ledger.
"""
from __future__ import annotations

import asyncio
import logging
import random
import re
from datetime import UTC, datetime

import iso8583
from stdnum.iso7064 import mod_97_10

from psp_adapters import iso8583_spec as spec
from psp_adapters.base import SettlementRow, TxnState
from psp_adapters.simulators.cards import NO_ANSWER
from psp_adapters.simulators.faults import FaultKind, FaultPlan
from psp_adapters.simulators.ledger import Ledger, LedgerEntry
from psp_adapters.simulators.terminals import TerminalBusy, TerminalFleet
from psp_adapters.tcp_framing import FrameError, frame, read_frame

log = logging.getLogger(__name__)

_REQUIRED = ("3", "4", "7", "11", "41", "42", "49")
_ECHOED = ("3", "4", "7", "11", "12", "13", "41", "42", "48", "49", "90")
_REVERSIBLE = (TxnState.PENDING, TxnState.APPROVED, TxnState.VERIFIED)
# Nothing was charged, or it is already undone: a reversal has nothing left to do and says so with success.
_NOTHING_TO_REVERSE = (TxnState.DECLINED, TxnState.REVERSED)


class PspHost:
    def __init__(self, *, psp_id: str, ledger: Ledger, fleet: TerminalFleet, faults: FaultPlan,
                 already_verified_code: str, verify_deadline_s: float, split_row_limit: int) -> None:
        self.psp_id = psp_id
        self.ledger = ledger
        self.fleet = fleet
        self.faults = faults
        self._already_verified_code = already_verified_code
        self._verify_deadline_s = verify_deadline_s
        self._split_row_limit = split_row_limit
        self._handlers = {spec.PURCHASE: self._purchase, spec.VERIFY: self._verify, spec.SETTLE: self._settle,
                          spec.REVERSAL: self._reverse, spec.INQUIRY: self._inquire}
        self._random = random.Random()
        self._rrn_sequence = 0
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                payload = await read_frame(reader)
                try:
                    request = spec.decode_message(payload)
                except iso8583.DecodeError as error:
                    log.warning("dropped a request that does not decode: %s", error)
                    continue
                # Requests are served concurrently: purchases wait for their cardholders, the rest answer at once.
                task = asyncio.create_task(self._serve(request, writer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError, FrameError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def close(self) -> None:
        for writer in list(self._writers):
            writer.close()
        for task in self._tasks:
            task.cancel()

    async def _serve(self, request: dict[str, str], writer: asyncio.StreamWriter) -> None:
        handler = self._handlers.get(request.get("t", ""))
        if handler is None:
            log.warning("dropped a request with unsupported MTI %r", request.get("t"))
            return
        reply = self._answer(request, spec.FORMAT_ERROR) if _malformed(request) else await handler(request)
        if reply is not None:
            await self._deliver(writer, request, reply)

    async def _purchase(self, request: dict[str, str]) -> dict[str, str] | None:
        terminal_id = request["41"].strip()
        existing = self.ledger.find(terminal_id, request["11"], request["7"])
        if existing is not None:
            return self._answer(request, existing.response_code or spec.BUSY, existing)
        try:
            rows = spec.decode_settlement_rows(request["62"]) if "62" in request else ()
        except ValueError:
            return self._answer(request, spec.FORMAT_ERROR)
        entry = self.ledger.open(LedgerEntry(
            terminal_id=terminal_id, merchant_id=request["42"].strip(), stan=request["11"],
            transmitted=request["7"], amount=int(request["4"]), reference=request.get("48", ""),
            settlement_rows=[{"iban": row.iban, "amount": row.amount, "payment_id": row.payment_id}
                             for row in rows]))
        refusal = self._refusal(entry.amount, rows)
        if refusal is not None:
            code, note = refusal
            self.ledger.move(entry, TxnState.DECLINED, note, response_code=code)
            return self._answer(request, code, entry)
        try:
            card = await self.fleet.serve_cardholder(terminal_id)
        except TerminalBusy:
            self.ledger.move(entry, TxnState.DECLINED, "terminal busy with another card", response_code=spec.BUSY)
            return self._answer(request, spec.BUSY, entry)
        if not self.ledger.holds(entry) or entry.state is not TxnState.PENDING:
            return None   # reversed (or reset) while the cardholder was at the terminal
        if card.answer is NO_ANSWER:
            return None
        masked_pan = spec.mask_pan(card.pan)
        if card.answer == spec.APPROVED:
            self.ledger.move(entry, TxnState.APPROVED, response_code=spec.APPROVED, rrn=self._next_rrn(),
                             auth_code=f"{self._random.randrange(10**6):06d}", masked_pan=masked_pan)
            asyncio.get_running_loop().call_later(self._verify_deadline_s, self._auto_reverse, entry)
        else:
            note = "cancelled by the cardholder" if card.answer == spec.CANCELLED else None
            self.ledger.move(entry, TxnState.DECLINED, note, response_code=card.answer, masked_pan=masked_pan)
        return self._answer(request, card.answer, entry)

    def _refusal(self, amount: int, rows: tuple[SettlementRow, ...]) -> tuple[str, str] | None:
        if amount == 0:
            return spec.INVALID_AMOUNT, "zero amount"
        if len(rows) > self._split_row_limit:
            return spec.FORMAT_ERROR, f"more than {self._split_row_limit} settlement rows"
        if not all(_is_sheba(row.iban) for row in rows):
            return spec.FORMAT_ERROR, "invalid IBAN in the settlement rows"
        if rows and sum(row.amount for row in rows) != amount:
            return spec.INVALID_AMOUNT, "settlement rows do not add up to the amount"
        return None

    async def _verify(self, request: dict[str, str]) -> dict[str, str]:
        entry, code = self._original(request)
        if entry is not None:
            if entry.state is TxnState.APPROVED:
                self.ledger.move(entry, TxnState.VERIFIED)
                code = spec.APPROVED
            elif entry.state in (TxnState.VERIFIED, TxnState.SETTLED):
                code = self._already_verified_code
            else:
                code = spec.INVALID_TRANSACTION
        return self._answer(request, code, entry)

    async def _settle(self, request: dict[str, str]) -> dict[str, str]:
        entry, code = self._original(request)
        if entry is not None:
            if entry.state is TxnState.VERIFIED:
                self.ledger.move(entry, TxnState.SETTLED)
            code = spec.APPROVED if entry.state is TxnState.SETTLED else spec.INVALID_TRANSACTION
        return self._answer(request, code, entry)

    async def _reverse(self, request: dict[str, str]) -> dict[str, str]:
        entry, code = self._original(request)
        if entry is not None:
            if entry.state in _REVERSIBLE:
                self.ledger.move(entry, TxnState.REVERSED, "reversal requested")
            code = spec.APPROVED if entry.state in _NOTHING_TO_REVERSE else spec.INVALID_TRANSACTION
        return self._answer(request, code, entry)

    async def _inquire(self, request: dict[str, str]) -> dict[str, str]:
        entry = self._find_original(request)
        if entry is None:
            return self._answer(request, spec.NOT_FOUND)
        reply = self._answer(request, spec.APPROVED, entry)
        reply["44"] = f"{entry.state}:{entry.response_code}" if entry.response_code else str(entry.state)
        return reply

    def _original(self, request: dict[str, str]) -> tuple[LedgerEntry | None, str]:
        """The purchase a follow-up message refers to, or None and the code that says why not."""
        entry = self._find_original(request)
        if entry is None:
            return None, spec.NOT_FOUND
        if entry.amount != int(request["4"]):
            return None, spec.INVALID_AMOUNT
        return entry, spec.APPROVED

    def _find_original(self, request: dict[str, str]) -> LedgerEntry | None:
        original = spec.parse_original_data(request["90"])
        return self.ledger.find(request["41"].strip(), original.stan, original.transmitted)

    def _auto_reverse(self, entry: LedgerEntry) -> None:
        if self.ledger.holds(entry) and entry.state is TxnState.APPROVED:
            self.ledger.move(entry, TxnState.REVERSED, "not verified within the deadline")

    def _next_rrn(self) -> str:
        """Year digit, day of the year, hour, then a six-digit sequence, as switches number retrievals."""
        now = datetime.now(UTC)
        self._rrn_sequence = (self._rrn_sequence + 1) % 10**6
        return f"{now.year % 10}{now.timetuple().tm_yday:03d}{now.hour:02d}{self._rrn_sequence:06d}"

    @staticmethod
    def _answer(request: dict[str, str], code: str, entry: LedgerEntry | None = None) -> dict[str, str]:
        reply = {name: request[name] for name in _ECHOED if name in request}
        reply["t"] = spec.reply_mti(request["t"])
        reply["39"] = code
        if entry is not None:
            for name, value in (("37", entry.rrn), ("38", entry.auth_code), ("2", entry.masked_pan)):
                if value:
                    reply[name] = value
        return reply

    async def _deliver(self, writer: asyncio.StreamWriter, request: dict[str, str], reply: dict[str, str]) -> None:
        data = frame(spec.encode_message(reply))
        terminal_id = request.get("41", "").strip()
        fault = self.faults.take(terminal_id, request["t"])
        if fault is not None:
            log.info("injecting %s into the %s for terminal %s", fault.kind, reply["t"], terminal_id)
            match fault.kind:
                case FaultKind.SLOW_REPLY:
                    await asyncio.sleep(fault.delay_ms / 1000)
                case FaultKind.DROP_REPLY:
                    return
                case FaultKind.DUPLICATE_REPLY:
                    data += data
                case FaultKind.RESET_CONNECTION:
                    writer.transport.abort()
                    return
                case FaultKind.GARBLE_REPLY:
                    data = frame(b"#" * (len(data) - 2))
        if writer.is_closing():
            return   # the gateway went away while the cardholder was at the terminal: the reply is lost
        writer.write(data)
        try:
            await writer.drain()
        except ConnectionError:
            pass


def _is_sheba(number: str) -> bool:
    """An Iranian IBAN (شبا): IR and 24 digits, with valid ISO 7064 mod 97-10 check digits.
    (python-stdnum's IBAN registry has no entry for Iran, so its `iban` module rejects every one.)"""
    return re.fullmatch(r"IR\d{24}", number) is not None and mod_97_10.is_valid(number[4:] + number[:4])


def _malformed(request: dict[str, str]) -> bool:
    if any(name not in request for name in _REQUIRED) or not request["4"].isdigit():
        return True
    if request["49"] != spec.CURRENCY_RIAL:
        return True
    if request["t"] == spec.PURCHASE:
        return False
    try:
        spec.parse_original_data(request["90"])
    except (KeyError, ValueError):
        return True
    return False
