"""The simulated PSP host's ISO 8583 front end: takes requests from gateways over TCP, hands them to the host's
rules (`host_rules`) and answers as `psp_adapters.iso8583_spec` describes.

Follow-ups find their purchase by terminal id, original STAN and original transmission date-time (field 90).
Requests the front end cannot parse (missing fields, currency other than 364, bad settlement rows) answer 30 and
never reach the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import iso8583
from aiohttp import web

from psp_adapters import iso8583_spec as spec
from psp_adapters import shetab
from psp_adapters.tcp_framing import FrameError, frame, read_frame
from simulators.psp.faults import DELIVERY_KINDS, FaultKind, Operation
from simulators.psp.host_rules import HostAnswer, PspHost, PurchaseOrder
from simulators.psp.ledger import LedgerEntry

log = logging.getLogger(__name__)

_REQUIRED = ("3", "4", "7", "11", "41", "42", "49")
_ECHOED = ("3", "4", "7", "11", "12", "13", "41", "42", "48", "49", "90")
_OPERATIONS = {
    spec.PURCHASE: Operation.PURCHASE,
    spec.VERIFY: Operation.VERIFY,
    spec.SETTLE: Operation.SETTLE,
    spec.REVERSAL: Operation.REVERSE,
    spec.INQUIRY: Operation.INQUIRY,
}


class IsoFrontEnd:
    protocol = "iso8583-tcp"
    port_key = "iso_port"

    def __init__(self, host: PspHost) -> None:
        self.host = host
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def listen(self, address: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle_connection, address, port)
        return self._server.sockets[0].getsockname()[1]

    async def hang_up(self) -> None:
        """Stop listening and cut every open connection; purchases at the terminals carry on in the ledger."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    def reset(self) -> None:
        """Nothing of its own to forget: the ledger holds every purchase."""

    def control_routes(self) -> list[web.RouteDef]:
        return []

    async def close(self) -> None:
        await self.hang_up()
        for task in self._tasks:
            task.cancel()

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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

    async def _serve(self, request: dict[str, str], writer: asyncio.StreamWriter) -> None:
        operation = _operation(request)
        if operation is None:
            log.warning("dropped a request with unsupported MTI %r", request.get("t"))
            return
        if _malformed(request):
            answer: HostAnswer | None = HostAnswer(shetab.FORMAT_ERROR)
        elif operation is Operation.PURCHASE:
            answer = await self._purchase(request)
        else:
            answer = self._follow_up(operation, request)
        if answer is not None:
            await self._deliver(writer, request, operation, answer)

    async def _purchase(self, request: dict[str, str]) -> HostAnswer | None:
        try:
            rows = spec.decode_settlement_rows(request["62"]) if "62" in request else ()
        except ValueError:
            return HostAnswer(shetab.FORMAT_ERROR)
        return await self.host.purchase(
            PurchaseOrder(
                terminal_id=request["41"].strip(),
                merchant_id=request["42"].strip(),
                stan=request["11"],
                transmitted=request["7"],
                amount=int(request["4"]),
                reference=request.get("48", ""),
                settlement_rows=rows,
            )
        )

    def _follow_up(self, operation: Operation, request: dict[str, str]) -> HostAnswer:
        original = spec.parse_original_data(request["90"])
        entry = self.host.ledger.find(request["41"].strip(), original.stan, original.transmitted)
        match operation:
            case Operation.VERIFY:
                return self.host.verify(entry, int(request["4"]))
            case Operation.SETTLE:
                return self.host.settle(entry, int(request["4"]))
            case Operation.REVERSE:
                return self.host.reverse(entry, int(request["4"]))
            case Operation.REFUND:
                return self.host.refund(entry, int(request["4"]))
        return HostAnswer(shetab.APPROVED if entry is not None else shetab.NOT_FOUND, entry)

    async def _deliver(
        self, writer: asyncio.StreamWriter, request: dict[str, str], operation: Operation, answer: HostAnswer
    ) -> None:
        reply = _reply(request, operation, answer)
        data = frame(spec.encode_message(reply))
        terminal_id = request.get("41", "").strip()
        fault = self.host.faults.take(terminal_id, operation, DELIVERY_KINDS)
        if fault is not None:
            log.info("injecting %s into the %s for terminal %s", fault.kind, reply["t"], terminal_id)
            match fault.kind:
                case FaultKind.SLOW_REPLY | FaultKind.LATE_REPLY:
                    await self.host.hold_reply(fault, answer.entry)
                case FaultKind.DROP_REPLY:
                    return
                case FaultKind.DUPLICATE_REPLY if fault.delay_ms:
                    asyncio.get_running_loop().call_later(fault.delay_ms / 1000, _write_if_open, writer, data)
                case FaultKind.DUPLICATE_REPLY:
                    data += data
                case FaultKind.RESET_CONNECTION:
                    writer.transport.abort()
                    return
                case FaultKind.GARBLE_REPLY:
                    data = frame(b"#" * (len(data) - 2))
        if writer.is_closing():
            return  # the gateway went away while the cardholder was at the terminal: the reply is lost
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()


def _write_if_open(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


def _reply(request: dict[str, str], operation: Operation, answer: HostAnswer) -> dict[str, str]:
    reply = {name: request[name] for name in _ECHOED if name in request}
    reply["t"] = spec.reply_mti(request["t"])
    reply["39"] = answer.code
    entry = answer.entry
    if entry is not None:
        reply.update(
            {
                name: value
                for name, value in (("37", entry.rrn), ("38", entry.auth_code), ("2", entry.masked_pan))
                if value
            }
        )
        if operation is Operation.INQUIRY:
            reply["44"] = _inquiry_answer(entry)
    if answer.refund_rrn:
        reply["37"] = answer.refund_rrn
    return reply


def _operation(request: dict[str, str]) -> Operation | None:
    """What the request asks: its MTI says, but for a refund, a 0200 whose processing code says so."""
    if request.get("t") == spec.PURCHASE and request.get("3") == spec.REFUND_PROCESSING_CODE:
        return Operation.REFUND
    return _OPERATIONS.get(request.get("t", ""))


def _inquiry_answer(entry: LedgerEntry) -> str:
    return f"{entry.state}:{entry.response_code}" if entry.response_code else str(entry.state)


def _malformed(request: dict[str, str]) -> bool:
    if any(name not in request for name in _REQUIRED) or not request["4"].isdigit():
        return True
    if request["49"] != spec.CURRENCY_RIAL:
        return True
    if request["t"] == spec.PURCHASE and request["3"] != spec.REFUND_PROCESSING_CODE:
        return False
    try:
        spec.parse_original_data(request["90"])
    except (KeyError, ValueError):
        return True
    return False
