"""The ISO 8583 over TCP PSP adapter (protocol "iso8583-tcp"); the message set is described in `iso8583_spec`.

Endpoint config: `host`, `port`, optional `purchase_timeout` (seconds the cardholder may take, default 90) and
`connections` (persistent connections to the host, default 1; a terminal always uses the same one).

A request that cannot be put on the wire (terminal id over 8 characters, merchant id over 15, STAN not 6 digits,
amount outside 1..999,999,999,999, non-ASCII reference) raises ValueError before anything is sent: that is a
caller's bug, not a PSP answer. Everything after sending maps to an Outcome.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Collection
from datetime import UTC, datetime

from gateway.core.psp import Outcome, PspCapabilities, PspReply, PurchaseRequest, TxnRef, TxnState
from psp_adapters import iso8583_spec as spec
from psp_adapters import shetab
from psp_adapters.base import PspAdapter
from psp_adapters.iso8583_connection import Iso8583Connection, LinkFault

DEFAULT_PURCHASE_TIMEOUT_S = 90.0
_APPROVED_ONLY = frozenset({shetab.APPROVED})
_HELD_STATES = frozenset(TxnState) - {TxnState.NOT_FOUND, TxnState.UNKNOWN}


class Iso8583TcpAdapter(PspAdapter):
    protocol = "iso8583-tcp"

    def __init__(self, *, psp_id: str, endpoint: dict, capabilities: PspCapabilities, timeout: float) -> None:
        super().__init__(psp_id=psp_id, endpoint=endpoint, capabilities=capabilities, timeout=timeout)
        self.purchase_timeout = float(endpoint.get("purchase_timeout", DEFAULT_PURCHASE_TIMEOUT_S))
        self._connections = [
            Iso8583Connection(endpoint["host"], int(endpoint["port"]), connect_timeout=timeout)
            for _ in range(int(endpoint.get("connections", 1)))
        ]

    async def purchase(self, request: PurchaseRequest) -> PspReply:
        message = _message(
            spec.PURCHASE,
            request.terminal_id,
            request.merchant_id,
            request.stan,
            request.amount,
            request.reference,
            request.transmitted_at,
        )
        if request.settlement_rows:
            message["62"] = spec.encode_settlement_rows(request.settlement_rows)
        if request.print_lines:
            message["63"] = spec.encode_print_lines(request.print_lines)
        return await self._call(message, self.purchase_timeout, _APPROVED_ONLY)

    async def verify(self, ref: TxnRef) -> PspReply:
        reply = await self._call(
            _follow_up(spec.VERIFY, ref), self.timeout, _APPROVED_ONLY | self.capabilities.already_verified_codes
        )
        if reply.response_code in self.capabilities.already_verified_codes:
            return dataclasses.replace(reply, detail="already verified")
        return reply

    async def settle(self, ref: TxnRef) -> PspReply:
        return await self._call(_follow_up(spec.SETTLE, ref), self.timeout, _APPROVED_ONLY)

    async def reverse(self, ref: TxnRef) -> PspReply:
        return await self._call(_follow_up(spec.REVERSAL, ref), self.timeout, _APPROVED_ONLY)

    async def refund(self, ref: TxnRef) -> PspReply:
        message = _follow_up(spec.PURCHASE, ref)
        message["3"] = spec.REFUND_PROCESSING_CODE
        reply = await self._call(message, self.timeout, _APPROVED_ONLY)
        if reply.outcome is Outcome.APPROVED and (not reply.rrn or reply.rrn == ref.rrn):
            return PspReply(Outcome.UNKNOWN, stan=ref.stan, detail="refund approved without its own RRN")
        return reply

    async def inquire(self, ref: TxnRef) -> PspReply:
        """Outcome APPROVED means the host answered and `state` holds its answer (NOT_FOUND included);
        `response_code` is then the original purchase's code (None while pending, 25 when not found).
        UNKNOWN means no usable answer; DECLINED means the host refused the inquiry itself."""
        message = _follow_up(spec.INQUIRY, ref)
        try:
            reply = await self._exchange(message, self.timeout)
        except LinkFault as fault:
            return PspReply(Outcome.UNKNOWN, stan=ref.stan, state=TxnState.UNKNOWN, detail=str(fault))
        code = reply["39"]
        if code == shetab.NOT_FOUND:
            return PspReply(Outcome.APPROVED, response_code=code, stan=ref.stan, state=TxnState.NOT_FOUND)
        state_text, _, original_code = reply.get("44", "").partition(":")
        if code != shetab.APPROVED or state_text not in _HELD_STATES:
            return PspReply(
                Outcome.DECLINED,
                response_code=code,
                stan=ref.stan,
                state=TxnState.UNKNOWN,
                detail=f"inquiry not answered: {reply.get('44', 'no state')}",
            )
        return _reply_fields(reply, Outcome.APPROVED, original_code or None, state=TxnState(state_text))

    async def close(self) -> None:
        for connection in self._connections:
            await connection.close()

    async def _call(self, message: dict[str, str], timeout: float, success_codes: Collection[str]) -> PspReply:
        try:
            reply = await self._exchange(message, timeout)
        except LinkFault as fault:
            return PspReply(Outcome.UNKNOWN, stan=message["11"], detail=str(fault))
        code = reply["39"]
        return _reply_fields(reply, Outcome.APPROVED if code in success_codes else Outcome.DECLINED, code)

    async def _exchange(self, message: dict[str, str], timeout: float) -> dict[str, str]:
        """The host's reply, checked to answer this very request; raises LinkFault otherwise."""
        connection = self._connections[zlib.crc32(message["41"].encode()) % len(self._connections)]
        reply = await connection.exchange(message, timeout)
        if "39" not in reply:
            raise LinkFault(f"{reply['t']} without a response code")
        if "4" in reply and reply["4"] != message["4"]:
            raise LinkFault(f"{reply['t']} names another amount than the request")
        return reply


def _message(
    mti: str, terminal_id: str, merchant_id: str, stan: str, amount: int, reference: str, transmitted_at: datetime
) -> dict[str, str]:
    if len(stan) != 6 or not stan.isdigit():
        raise ValueError(f"STAN must be 6 digits, got {stan!r}")
    return {
        "t": mti,
        "3": spec.PROCESSING_CODE,
        "4": spec.amount_field(amount),
        "7": spec.transmission_field(transmitted_at),
        "11": stan,
        **spec.local_time_fields(transmitted_at),
        "41": terminal_id.ljust(8),
        "42": merchant_id.ljust(15),
        "48": reference,
        "49": spec.CURRENCY_RIAL,
    }


def _follow_up(mti: str, ref: TxnRef) -> dict[str, str]:
    message = _message(mti, ref.terminal_id, ref.merchant_id, ref.stan, ref.amount, ref.reference, datetime.now(UTC))
    message["90"] = spec.original_data_field(
        spec.OriginalData(mti=spec.PURCHASE, stan=ref.stan, transmitted=spec.transmission_field(ref.transmitted_at))
    )
    if ref.rrn:
        message["37"] = ref.rrn
    return message


def _reply_fields(
    reply: dict[str, str], outcome: Outcome, response_code: str | None, state: TxnState | None = None
) -> PspReply:
    masked_pan = reply.get("2")
    return PspReply(
        outcome=outcome,
        response_code=response_code,
        rrn=reply.get("37"),
        stan=reply["11"],
        auth_code=reply.get("38"),
        # Re-masked on arrival so that a host sending a full card number can never get it stored.
        masked_pan=shetab.mask_pan(masked_pan) if masked_pan else None,
        state=state,
    )
