"""POST /v1/charges and GET /v1/charges/{id}."""

from __future__ import annotations

import contextlib
import hashlib
import uuid

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from gateway.access.api_keys import Principal
from gateway.access.rate_counts import PendingCount, nonce_unavailable
from gateway.charging.store import get_charge
from gateway.core.charge_rules import ChargeIntent
from gateway.core.errors import GatewayError, IdempotencyKeyMissing
from gateway.messaging.outbox.store import messages_of_charge
from gateway.web.auth import require_office, require_role
from gateway.web.charge_view import charge_answer, charge_view
from gateway.web.context import Services, charge_principal, principal, services
from gateway.web.errors import json_response, not_found
from gateway.web.schemas import ChargeRequest, parse_body

routes = web.RouteTableDef()
MAX_IDEMPOTENCY_KEY = 255


def charge_intent(body: ChargeRequest) -> ChargeIntent:
    """The charge a validated request asks for (the API's and the counter page's alike)."""
    return ChargeIntent(
        terminal_id=body.terminal_id,
        operator_id=body.operator_id,
        service_code=body.service_code,
        quantity=body.quantity,
        extras=tuple((e.code, e.quantity) for e in body.extras),
        recipient_name=body.recipient.name,
        recipient_id=body.recipient.recipient_id(),
        recipient_birth_date=body.recipient.birth_date,
        recipient_mobile=body.recipient.mobile,
        amount=body.amount,
        payment_method=body.payment_method,
    )


def request_fingerprint(body: ChargeRequest) -> bytes:
    """What an Idempotency-Key is bound to: a replay must ask for exactly the same charge."""
    return hashlib.sha256(orjson.dumps(body.model_dump(exclude_none=True), option=orjson.OPT_SORT_KEYS)).digest()


@routes.post("/v1/charges")
async def create_charge(request: web.Request) -> web.Response:
    caller = await charge_principal(request)
    svc = services(request)
    rate = svc.auth.pending(request, caller)
    try:
        return await _charge(request, svc, caller, rate)
    except GatewayError:
        # A request refused before the terminal lock spent its count and nonce spends them now: it counts too
        # (429 if over), and a replay is told it is one (401), whatever else it broke.
        await rate.spend()
        raise
    except RedisError:
        if rate.nonce is not None and not rate.spent:
            raise nonce_unavailable() from None
        raise


async def _charge(request: web.Request, svc: Services, caller: Principal, rate: PendingCount) -> web.Response:
    require_role(caller, "terminal")
    assert caller.terminal_id is not None, "a terminal key names its terminal"
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise IdempotencyKeyMissing(
            f"The Idempotency-Key header is required (1 to {MAX_IDEMPOTENCY_KEY} characters).", param="Idempotency-Key"
        )
    body = parse_body(ChargeRequest, await request.read())
    intent, request_hash = charge_intent(body), request_fingerprint(body)
    charge = await svc.charges.create(key, intent, request_hash, caller.terminal_id, key_id=caller.key_id, rate=rate)
    status, answer = charge_answer(charge)
    if charge.receipt is not None:
        # Signed by the key that signed the receipt. The money is taken by now: a process without that key (a
        # rotation under way) answers without the QR URL rather than fail; GET /v1/receipts gives it later.
        with contextlib.suppress(KeyError):
            answer["qr_url"] = svc.links.qr_url(charge.receipt, svc.charges.issuer.keyring)
    return json_response(answer, status=status)


@routes.get("/v1/charges/{charge_id}")
async def read_charge(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal", "regulator", "admin")
    try:
        charge_id = uuid.UUID(request.match_info["charge_id"])
    except ValueError:
        raise not_found("charge") from None
    charge = await get_charge(services(request).pool, charge_id)
    if charge is None:
        raise not_found("charge")
    require_office(caller, charge.office_id)
    messages = await messages_of_charge(services(request).pool, charge_id, charge.completed_at)
    return json_response(charge_view(charge, messages))
