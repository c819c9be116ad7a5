"""POST /v1/charges and GET /v1/charges/{id}."""
from __future__ import annotations

import hashlib
import uuid

import orjson
from aiohttp import web

from gateway.charge_view import charge_view
from gateway.domain.charge_rules import ChargeIntent
from gateway.http.auth import require_office, require_role
from gateway.http.context import principal, services
from gateway.http.errors import ApiError, invalid_request, json_response, not_found
from gateway.http.schemas import ChargeRequest, parse_body
from gateway.storage.charges_store import get_charge
from gateway.storage.outbox_store import messages_of_charge

routes = web.RouteTableDef()
MAX_IDEMPOTENCY_KEY = 255


@routes.post("/v1/charges")
async def create_charge(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal")
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise invalid_request(f"The Idempotency-Key header is required (1 to {MAX_IDEMPOTENCY_KEY} characters).",
                              param="Idempotency-Key", code="idempotency_key_missing")
    body = parse_body(ChargeRequest, await request.read())
    if body.terminal_id != caller.terminal_id:
        raise ApiError(403, "permission_error", "terminal_mismatch",
                       "A terminal key can charge only on its own terminal.", param="terminal_id")
    intent = ChargeIntent(
        terminal_id=body.terminal_id, operator_id=body.operator_id, service_code=body.service_code,
        quantity=body.quantity, extras=tuple((e.code, e.quantity) for e in body.extras),
        recipient_name=body.recipient.name, recipient_national_code=body.recipient.national_code,
        recipient_mobile=body.recipient.mobile, amount=body.amount, payment_method=body.payment_method)
    request_hash = hashlib.sha256(orjson.dumps(body.model_dump(), option=orjson.OPT_SORT_KEYS)).digest()
    status, answer = await services(request).charges.create(caller, key, intent, request_hash)
    return json_response(answer, status=status)


@routes.get("/v1/charges/{charge_id}")
async def read_charge(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal", "regulator", "admin")
    try:
        charge_id = uuid.UUID(request.match_info["charge_id"])
    except ValueError:
        raise not_found("charge") from None
    row = await get_charge(services(request).pool, charge_id)
    if row is None:
        raise not_found("charge")
    require_office(caller, row["office_id"])
    return json_response(charge_view(row, await messages_of_charge(services(request).pool, charge_id)))
