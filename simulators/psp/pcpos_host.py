"""The simulated PSP host's cloud PC-POS front end: the HTTP API of `psp_adapters.pcpos_spec`, served with aiohttp
and handed to the host's rules (`host_rules`), so both protocols share one fleet, ledger and fault plan.

It keeps what the API has beside the ledger: the access tokens it issued and the registered payment requests
(identifier → purchase). A request's identifier must be started within `identifier_ttl_s`; until then an inquiry
reports it pending and a reversal cancels it, after that it is dead (StartPayment answers 12, inquiry 25), so a
gateway that lost track of a request can settle its fate for good.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import random
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pydantic
from aiohttp import web

from gateway.core.psp import SettlementRow, TxnState
from psp_adapters import pcpos_spec as spec
from psp_adapters import shetab
from psp_adapters.iso8583_spec import transmission_field
from simulators.psp.faults import DELIVERY_KINDS, FaultKind, Operation
from simulators.psp.host_rules import HostAnswer, PspHost, PurchaseOrder
from simulators.psp.ledger import LedgerEntry

log = logging.getLogger(__name__)

_FOLLOW_UPS = {
    spec.VERIFY_PATH: Operation.VERIFY,
    spec.SETTLE_PATH: Operation.SETTLE,
    spec.REVERSE_PATH: Operation.REVERSE,
    spec.REFUND_PATH: Operation.REFUND,
}
# How often a reply held for a gateway that may have gone looks again.
_GONE_CHECK_S = 0.1


@dataclass
class _PaymentRequest:
    identifier: str
    order: PurchaseOrder
    expires_at: float  # time.monotonic() by which StartPayment must come
    registered_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: bool = False
    cancelled: bool = False

    def live(self) -> bool:
        """Registered, neither started, cancelled nor expired."""
        return not (self.started or self.cancelled) and time.monotonic() < self.expires_at


class PcPosFrontEnd:
    protocol = "pcpos-http"
    port_key = "http_port"

    def __init__(
        self, host: PspHost, *, client_id: str, client_secret: str, token_ttl_s: int, identifier_ttl_s: float
    ) -> None:
        self.host = host
        self._credentials = (client_id, client_secret)
        self._token_ttl_s = token_ttl_s
        self._identifier_ttl_s = identifier_ttl_s
        self._tokens: dict[str, float] = {}  # access token → time.monotonic() it expires
        self._requests: dict[str, _PaymentRequest] = {}
        self._by_reference: dict[tuple[str, str], _PaymentRequest] = {}
        self._identifiers = itertools.count(random.randrange(10**11, 2 * 10**11))
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None

    async def listen(self, address: str, port: int) -> int:
        if self._runner is None:
            # Replies held for faults must not hold up the simulator's own shutdown.
            self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
        sock = socket.create_server((address, port))
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
        return sock.getsockname()[1]

    async def hang_up(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        for connection in self._runner.server.connections if self._runner and self._runner.server else ():
            if connection.transport is not None:
                connection.transport.abort()

    def reset(self) -> None:
        self._requests.clear()
        self._by_reference.clear()

    def control_routes(self) -> list[web.RouteDef]:
        return [web.post("/tokens/revoke", self._revoke_tokens)]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._authorised])
        app.router.add_post(spec.TOKEN_PATH, self._token)
        app.router.add_post(spec.IDENTIFIER_PATH, self._receive_identifier)
        app.router.add_post(spec.START_PAYMENT_PATH, self._start_payment)
        app.router.add_post(spec.INQUIRY_PATH, self._inquiry)
        for path in _FOLLOW_UPS:
            app.router.add_post(path, self._follow_up)
        return app

    @web.middleware
    async def _authorised(self, request: web.Request, handler) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or self._tokens.get(token, 0.0) <= time.monotonic():
                return _respond(
                    request, {"error": "invalid_token"}, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                )
        try:
            return await handler(request)
        except pydantic.ValidationError as error:
            return _respond(
                request,
                _envelope(shetab.FORMAT_ERROR, detail=f"format error: {error.error_count()} invalid field(s)"),
                400,
            )

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if _basic_credentials(request.headers.get("Authorization", "")) != self._credentials:
            return _respond(request, {"error": "invalid_client"}, 401, {"WWW-Authenticate": "Basic"})
        if form.get("grant_type") != spec.GRANT_TYPE:
            return _respond(request, {"error": "unsupported_grant_type"}, 400)
        token = secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + self._token_ttl_s
        return _respond(
            request,
            {"access_token": token, "token_type": "Bearer", "expires_in": self._token_ttl_s, "scope": spec.SCOPE},
        )

    async def _revoke_tokens(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        live = sum(1 for expires in self._tokens.values() if expires > now)
        self._tokens.clear()
        return web.json_response({"revoked": live})

    async def _receive_identifier(self, request: web.Request) -> web.Response:
        body = spec.IdentifierRequest.model_validate_json(await request.read())
        order = PurchaseOrder(
            terminal_id=body.terminal_id,
            merchant_id=body.merchant_id,
            stan=body.trace_number,
            transmitted=transmission_field(body.transmission_date_time),
            amount=body.amount,
            reference=body.res_num,
            settlement_rows=tuple(
                SettlementRow(iban=row.iban, amount=row.amount, payment_id=row.payment_id)
                for row in body.settlement_iban_info
            ),
        )
        payment = self._by_reference.get((order.terminal_id, order.reference))
        if payment is not None and payment.order != order:
            return _respond(
                request,
                _envelope(shetab.INVALID_TRANSACTION, detail="ResNum already names another payment on this terminal"),
            )
        if payment is None:
            payment = _PaymentRequest(
                f"{next(self._identifiers):012d}", order, time.monotonic() + self._identifier_ttl_s
            )
            self._requests[payment.identifier] = payment
            self._by_reference[order.terminal_id, order.reference] = payment
        registration = spec.Registration(
            identifier=payment.identifier,
            terminal_id=order.terminal_id,
            res_num=order.reference,
            expires_in=round(self._identifier_ttl_s),
        )
        return _respond(request, _envelope(shetab.APPROVED, registration.model_dump(mode="json", by_alias=True)))

    async def _start_payment(self, request: web.Request) -> web.Response:
        body = spec.StartPaymentRequest.model_validate_json(await request.read())
        payment = self._requests.get(body.identifier)
        if payment is None or payment.order.terminal_id != body.terminal_id:
            return _respond(request, _envelope(shetab.NOT_FOUND))
        if not (payment.started or payment.live()):
            return _respond(
                request, _envelope(shetab.INVALID_TRANSACTION, detail="the identifier has expired or was cancelled")
            )
        payment.started = True
        answer = await self.host.purchase(payment.order)
        if answer is None:
            return await _no_reply(request)
        return await self._deliver(request, Operation.PURCHASE, body.terminal_id, payment, answer)

    async def _inquiry(self, request: web.Request) -> web.Response:
        body = spec.InquiryRequest.model_validate_json(await request.read())
        payment = self._by_reference.get((body.terminal_id, body.res_num))
        entry = self.host.ledger.find_reference(body.terminal_id, body.res_num)
        if payment is None or (entry is None and not payment.live()):
            return await self._deliver(
                request, Operation.INQUIRY, body.terminal_id, payment, HostAnswer(shetab.NOT_FOUND)
            )
        return await self._deliver(
            request,
            Operation.INQUIRY,
            body.terminal_id,
            payment,
            HostAnswer(shetab.APPROVED, entry),
            shows_pending=entry is None,
        )

    async def _follow_up(self, request: web.Request) -> web.Response:
        operation = _FOLLOW_UPS[request.path]
        body = spec.FollowUpRequest.model_validate_json(await request.read())
        payment = self._by_reference.get((body.terminal_id, body.res_num))
        entry = self.host.ledger.find_reference(body.terminal_id, body.res_num)
        if operation is Operation.REVERSE and entry is None and payment is not None and payment.live():
            answer = self._cancel(payment, body.amount)
        elif operation is Operation.VERIFY:
            answer = self.host.verify(entry, body.amount)
        elif operation is Operation.SETTLE:
            answer = self.host.settle(entry, body.amount)
        elif operation is Operation.REFUND:
            answer = self.host.refund(entry, body.amount)
        else:
            answer = self.host.reverse(entry, body.amount)
        return await self._deliver(request, operation, body.terminal_id, payment, answer)

    @staticmethod
    def _cancel(payment: _PaymentRequest, amount: int) -> HostAnswer:
        """A reversal of a request not started yet: it will never reach the terminal."""
        if amount != payment.order.amount:
            return HostAnswer(shetab.INVALID_AMOUNT)
        payment.cancelled = True
        return HostAnswer(shetab.APPROVED)

    async def _deliver(
        self,
        request: web.Request,
        operation: Operation,
        terminal_id: str,
        payment: _PaymentRequest | None,
        answer: HostAnswer,
        *,
        shows_pending: bool = False,
    ) -> web.Response:
        """The answer, with the transaction when there is one to show (a registered request not started yet is
        shown, as pending, to an inquiry only), travelling as the fault plan says."""
        shown = payment if payment is not None and (answer.entry is not None or shows_pending) else None
        repeated_verify = operation is Operation.VERIFY and answer.code == self.host.already_verified_code
        body = _envelope(
            answer.code,
            _transaction(shown, answer.entry).model_dump(mode="json", by_alias=True) if shown else None,
            detail=shetab.ALREADY_VERIFIED_DESCRIPTION if repeated_verify else None,
        )
        fault = self.host.faults.take(terminal_id, operation, DELIVERY_KINDS)
        if fault is None:
            return _respond(request, body)
        log.info("injecting %s into the %s answer for terminal %s", fault.kind, operation, terminal_id)
        match fault.kind:
            case FaultKind.SLOW_REPLY | FaultKind.LATE_REPLY:
                await self.host.hold_reply(fault, answer.entry)
            case FaultKind.DROP_REPLY:
                return await _no_reply(request)
            case FaultKind.RESET_CONNECTION:
                if request.transport is not None:
                    request.transport.abort()
                return _respond(request, body)
            case FaultKind.GARBLE_REPLY:
                return _respond_raw(request, b"#" * len(orjson.dumps(body)))
            case FaultKind.DUPLICATE_REPLY:
                return await _respond_twice(request, body, fault.delay_ms / 1000)
        return _respond(request, body)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    try:
        login, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (login, password) if scheme.lower() == "basic" and colon else None


def _transaction(payment: _PaymentRequest, entry: LedgerEntry | None) -> spec.Transaction:
    """The transaction view of a purchase; a request not started yet shows as pending."""
    order = payment.order
    return spec.Transaction(
        identifier=payment.identifier,
        terminal_id=order.terminal_id,
        merchant_id=order.merchant_id,
        res_num=order.reference,
        trace_number=order.stan,
        amount=order.amount,
        state=entry.state if entry is not None else TxnState.PENDING,
        response_code=entry.response_code if entry is not None else None,
        rrn=entry.rrn if entry is not None else None,
        auth_code=entry.auth_code if entry is not None else None,
        card_mask_number=entry.masked_pan if entry is not None else None,
        refund_rrn=(entry.refund or {}).get("rrn") if entry is not None else None,
        create_on=entry.created_at if entry is not None else payment.registered_at,
        update_on=entry.updated_at if entry is not None else payment.registered_at,
    )


def _envelope(code: str, data: dict | None = None, *, detail: str | None = None) -> dict:
    return spec.Envelope(
        is_success=code == shetab.APPROVED,
        result_code=code,
        result_description=detail or shetab.DESCRIPTIONS.get(code),
        data=data,
    ).model_dump(mode="json", by_alias=True)


def _echo(request: web.Request) -> dict[str, str]:
    request_id = request.headers.get(spec.REQUEST_ID_HEADER)
    return {spec.REQUEST_ID_HEADER: request_id} if request_id else {}


def _respond(
    request: web.Request, payload: dict, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return _respond_raw(request, orjson.dumps(payload), status, headers)


def _respond_raw(
    request: web.Request, body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=body, status=status, content_type="application/json", headers={**_echo(request), **(headers or {})}
    )


async def _respond_twice(request: web.Request, payload: dict, copy_after_s: float) -> web.Response:
    """The answer, then a byte-for-byte copy of it on the same connection (right behind it, or after copy_after_s
    when the connection may already carry the next request), as a confused host would send it."""
    body = orjson.dumps(payload)
    response = _respond_raw(request, body)
    await response.prepare(request)
    await response.write_eof()
    head = (
        f"HTTP/1.1 {response.status} {response.reason}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in response.headers.items())
        + "\r\n"
    )
    copy = head.encode("latin-1") + body
    transport = request.transport
    if transport is not None:
        asyncio.get_running_loop().call_later(copy_after_s, _write_if_open, transport, copy)
    return response


def _write_if_open(transport: asyncio.Transport, data: bytes) -> None:
    if not transport.is_closing():
        transport.write(data)


async def _no_reply(request: web.Request) -> web.Response:
    """Say nothing until the gateway gives up and goes; what is returned then is never seen."""
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(_GONE_CHECK_S)
    return web.Response(status=204)
