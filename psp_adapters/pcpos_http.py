"""The cloud PC-POS HTTP adapter (protocol "pcpos-http"); the API is described in `pcpos_spec`.

Endpoint config: `host`, `port`, `client_id`, `client_secret`, optional `scheme` (default "https"), `base_path`
(default ""), `purchase_timeout` (seconds the cardholder may take, default 90) and `connections` (most connections
open at once, default 1000: every purchase waiting for its cardholder holds one).

A purchase is three calls: the access token (cached until shortly before it expires, shared by concurrent callers,
fetched again when the PSP answers 401), ReceiveIdentifier, then StartPayment, which the PSP holds until the
cardholder is done. Follow-ups name the purchase by terminal and the gateway's reference. A request that cannot be
sent (STAN not 6 digits, amount outside 1..999,999,999,999) raises ValueError before anything is sent: that is a
caller's bug, not a PSP answer. Everything after sending maps to an Outcome; no PSP or network fault raises.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import orjson
import pydantic
from yarl import URL

from gateway.core.psp import Outcome, PspCapabilities, PspReply, PurchaseRequest, TxnRef, TxnState
from psp_adapters import pcpos_spec as spec
from psp_adapters import shetab
from psp_adapters.base import PspAdapter

DEFAULT_PURCHASE_TIMEOUT_S = 90.0
DEFAULT_CONNECTIONS = 1000
# A token is used no later than this many seconds before the PSP said it expires.
TOKEN_EXPIRY_MARGIN_S = 30.0
_APPROVED_ONLY = frozenset({shetab.APPROVED})
_HELD_STATES = frozenset(TxnState) - {TxnState.NOT_FOUND, TxnState.UNKNOWN}
Model = TypeVar("Model", bound=pydantic.BaseModel)


class _NoAnswer(Exception):
    """No usable answer: timeout, refused or lost connection, an error page, a garbled or foreign reply."""


@dataclass(frozen=True)
class _Token:
    value: str
    usable_until: float  # time.monotonic()


class PcPosHttpAdapter(PspAdapter):
    protocol = "pcpos-http"

    def __init__(self, *, psp_id: str, endpoint: dict, capabilities: PspCapabilities, timeout: float) -> None:
        super().__init__(psp_id=psp_id, endpoint=endpoint, capabilities=capabilities, timeout=timeout)
        self.purchase_timeout = float(endpoint.get("purchase_timeout", DEFAULT_PURCHASE_TIMEOUT_S))
        self.base_url = URL.build(
            scheme=endpoint.get("scheme", "https"),
            host=endpoint["host"],
            port=int(endpoint["port"]),
            path=endpoint.get("base_path", ""),
        )
        self._client_authorization = aiohttp.encode_basic_auth(endpoint["client_id"], endpoint["client_secret"])
        self._connections = int(endpoint.get("connections", DEFAULT_CONNECTIONS))
        self._session: aiohttp.ClientSession | None = None
        self._token: _Token | None = None
        self._token_fetch: asyncio.Task[_Token] | None = None

    async def purchase(self, request: PurchaseRequest) -> PspReply:
        registration = _registration(request)
        try:
            registered = await self._post(spec.IDENTIFIER_PATH, registration, self.timeout)
            if registered.result_code != shetab.APPROVED:
                return PspReply(
                    Outcome.DECLINED,
                    response_code=registered.result_code,
                    stan=request.stan,
                    detail=registered.result_description,
                )
            identifier = _parse(spec.Registration, registered.data).identifier
            started = spec.StartPaymentRequest(identifier=identifier, terminal_id=request.terminal_id)
            answer = await self._post(spec.START_PAYMENT_PATH, started, self.purchase_timeout)
            return _transaction_reply(answer, request.reference, request.amount, request.stan, _APPROVED_ONLY)
        except _NoAnswer as fault:
            return PspReply(Outcome.UNKNOWN, stan=request.stan, detail=str(fault))

    async def verify(self, ref: TxnRef) -> PspReply:
        success = _APPROVED_ONLY | self.capabilities.already_verified_codes
        reply = await self._follow_up(spec.VERIFY_PATH, ref, success)
        if reply.response_code in self.capabilities.already_verified_codes:
            return dataclasses.replace(reply, detail="already verified")
        return reply

    async def settle(self, ref: TxnRef) -> PspReply:
        return await self._follow_up(spec.SETTLE_PATH, ref, _APPROVED_ONLY)

    async def reverse(self, ref: TxnRef) -> PspReply:
        return await self._follow_up(spec.REVERSE_PATH, ref, _APPROVED_ONLY)

    async def refund(self, ref: TxnRef) -> PspReply:
        body = spec.FollowUpRequest(terminal_id=ref.terminal_id, res_num=ref.reference, amount=ref.amount)
        try:
            answer = await self._post(spec.REFUND_PATH, body, self.timeout)
            reply = _transaction_reply(answer, ref.reference, ref.amount, ref.stan, _APPROVED_ONLY)
            if reply.outcome is not Outcome.APPROVED:
                return reply
            refund_rrn = _transaction(answer, ref.reference, ref.amount).refund_rrn
            if not refund_rrn:
                raise _NoAnswer("refund approved without its own RRN")
            return dataclasses.replace(reply, rrn=refund_rrn)
        except _NoAnswer as fault:
            return PspReply(Outcome.UNKNOWN, stan=ref.stan, detail=str(fault))

    async def inquire(self, ref: TxnRef) -> PspReply:
        """Outcome APPROVED means the PSP answered and `state` holds its answer (NOT_FOUND included);
        `response_code` is then the original purchase's code (None while pending, 25 when not found).
        UNKNOWN means no usable answer; DECLINED means the PSP refused the inquiry itself."""
        try:
            answer = await self._post(
                spec.INQUIRY_PATH, spec.InquiryRequest(terminal_id=ref.terminal_id, res_num=ref.reference), self.timeout
            )
            if answer.result_code == shetab.NOT_FOUND:
                return PspReply(
                    Outcome.APPROVED, response_code=answer.result_code, stan=ref.stan, state=TxnState.NOT_FOUND
                )
            if answer.result_code != shetab.APPROVED:
                return PspReply(
                    Outcome.DECLINED,
                    response_code=answer.result_code,
                    stan=ref.stan,
                    state=TxnState.UNKNOWN,
                    detail=f"inquiry not answered: {answer.result_description}",
                )
            transaction = _transaction(answer, ref.reference, ref.amount)
        except _NoAnswer as fault:
            return PspReply(Outcome.UNKNOWN, stan=ref.stan, state=TxnState.UNKNOWN, detail=str(fault))
        if transaction.state not in _HELD_STATES:
            return PspReply(
                Outcome.DECLINED,
                stan=ref.stan,
                state=TxnState.UNKNOWN,
                detail=f"inquiry not answered: state {transaction.state}",
            )
        return _reply_fields(
            transaction, Outcome.APPROVED, transaction.response_code, ref.stan, state=transaction.state
        )

    async def close(self) -> None:
        if self._token_fetch is not None:
            self._token_fetch.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _follow_up(self, path: str, ref: TxnRef, success_codes: Collection[str]) -> PspReply:
        body = spec.FollowUpRequest(terminal_id=ref.terminal_id, res_num=ref.reference, amount=ref.amount)
        try:
            answer = await self._post(path, body, self.timeout)
            return _transaction_reply(answer, ref.reference, ref.amount, ref.stan, success_codes)
        except _NoAnswer as fault:
            return PspReply(Outcome.UNKNOWN, stan=ref.stan, detail=str(fault))

    async def _post(self, path: str, body: spec.WireModel, timeout: float) -> spec.Envelope:
        """The PSP's envelope for this request, sent with a valid access token; raises _NoAnswer otherwise.
        A 401 means the request was refused unread, so it is sent once more with a fresh token."""
        token = await self._access_token()
        answer = await self._send(path, body, timeout, token)
        if answer is None:
            self._forget(token)
            token = await self._access_token()
            answer = await self._send(path, body, timeout, token)
            if answer is None:
                raise _NoAnswer("the PSP refuses a fresh access token")
        return answer

    async def _send(self, path: str, body: spec.WireModel, timeout: float, token: _Token) -> spec.Envelope | None:
        """The envelope, or None for a 401."""
        request_id = uuid.uuid4().hex
        headers = {
            "Authorization": f"Bearer {token.value}",
            "Content-Type": "application/json",
            spec.REQUEST_ID_HEADER: request_id,
        }
        try:
            async with self._client().post(
                self._url(path), data=body.wire(), headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                if response.headers.get(spec.REQUEST_ID_HEADER) != request_id:
                    # A stray answer left on a reused connection: neither it nor the connection can be trusted.
                    response.close()
                    raise _NoAnswer(f"{path}: an answer to another request")
                if response.status == 401:
                    return None
                raw = await response.read()
        except TimeoutError:
            raise _NoAnswer(f"{path}: no answer within {timeout:g} s") from None
        except (aiohttp.ClientError, OSError) as error:
            raise _NoAnswer(f"{path}: {type(error).__name__}: {error}") from None
        if response.status >= 500:
            raise _NoAnswer(f"{path}: HTTP {response.status}")
        return _parse(spec.Envelope, _json(raw, path))

    async def _access_token(self) -> _Token:
        if self._token is not None and time.monotonic() < self._token.usable_until:
            return self._token
        if self._token_fetch is None:
            self._token_fetch = asyncio.create_task(self._fetch_token())
            self._token_fetch.add_done_callback(self._token_fetched)
        return await asyncio.shield(self._token_fetch)

    def _token_fetched(self, task: asyncio.Task[_Token]) -> None:
        self._token_fetch = None
        if not task.cancelled() and task.exception() is None:
            self._token = task.result()

    def _forget(self, token: _Token) -> None:
        if self._token is token:
            self._token = None

    async def _fetch_token(self) -> _Token:
        asked_at = time.monotonic()
        form = {"grant_type": spec.GRANT_TYPE, "scope": spec.SCOPE}
        try:
            async with self._client().post(
                self._url(spec.TOKEN_PATH),
                data=form,
                headers={"Authorization": self._client_authorization},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                raw = await response.read()
        except TimeoutError:
            raise _NoAnswer(f"no access token within {self.timeout:g} s") from None
        except (aiohttp.ClientError, OSError) as error:
            raise _NoAnswer(f"access token: {type(error).__name__}: {error}") from None
        if response.status != 200:
            raise _NoAnswer(f"access token refused: HTTP {response.status} {raw[:100]!r}")
        grant = _parse(spec.TokenGrant, _json(raw, spec.TOKEN_PATH))
        if grant.token_type.lower() != "bearer":
            raise _NoAnswer(f"access token of unknown type {grant.token_type!r}")
        return _Token(grant.access_token, asked_at + max(grant.expires_in - TOKEN_EXPIRY_MARGIN_S, 0.0))

    def _url(self, path: str) -> URL:
        return self.base_url / path.lstrip("/")

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use so that it belongs to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections), headers={"Accept": "application/json"}
            )
        return self._session


def _registration(request: PurchaseRequest) -> spec.IdentifierRequest:
    if len(request.stan) != 6 or not request.stan.isdigit():
        raise ValueError(f"STAN must be 6 digits, got {request.stan!r}")
    if not 0 < request.amount <= spec.MAX_AMOUNT:
        raise ValueError(f"amount must be between 1 and {spec.MAX_AMOUNT} rials, got {request.amount}")
    return spec.IdentifierRequest(
        terminal_id=request.terminal_id,
        merchant_id=request.merchant_id,
        amount=request.amount,
        res_num=request.reference,
        trace_number=request.stan,
        transmission_date_time=request.transmitted_at,
        settlement_iban_info=tuple(
            spec.SettlementIban(iban=row.iban, amount=row.amount, payment_id=row.payment_id)
            for row in request.settlement_rows
        ),
        user_notifiable=spec.UserNotifiable(
            print_items=tuple(spec.PrintItem(item=line) for line in request.print_lines)
        ),
    )


def _json(raw: bytes, path: str) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _NoAnswer(f"{path}: the answer is not JSON") from None


def _parse(model: type[Model], value: object) -> Model:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as error:
        raise _NoAnswer(f"garbled answer: {error.error_count()} problems in {model.__name__}") from None


def _transaction(answer: spec.Envelope, reference: str, amount: int) -> spec.Transaction:
    """The transaction an answer carries, checked to be the one asked about."""
    transaction = _parse(spec.Transaction, answer.data)
    if transaction.res_num != reference or transaction.amount != amount:
        raise _NoAnswer("the answer names another purchase or amount than the request")
    return transaction


def _transaction_reply(
    answer: spec.Envelope, reference: str, amount: int, stan: str, success_codes: Collection[str]
) -> PspReply:
    outcome = Outcome.APPROVED if answer.result_code in success_codes else Outcome.DECLINED
    if answer.data is None:
        return PspReply(outcome, response_code=answer.result_code, stan=stan, detail=answer.result_description)
    return _reply_fields(_transaction(answer, reference, amount), outcome, answer.result_code, stan)


def _reply_fields(
    transaction: spec.Transaction, outcome: Outcome, response_code: str | None, stan: str, state: TxnState | None = None
) -> PspReply:
    return PspReply(
        outcome=outcome,
        response_code=response_code,
        rrn=transaction.rrn or None,
        stan=transaction.trace_number or stan,
        auth_code=transaction.auth_code or None,
        # Re-masked on arrival so that a PSP sending a full card number can never get it stored.
        masked_pan=shetab.mask_pan(transaction.card_mask_number) if transaction.card_mask_number else None,
        state=state,
    )
