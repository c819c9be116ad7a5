"""POST /v1/charges/{id}/void and GET /v1/charges/{id}/void."""

from __future__ import annotations

import hashlib
import uuid

import orjson
from aiohttp import web

from gateway.charging.void_store import void_of_charge
from gateway.core.errors import IdempotencyKeyMissing
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import json_response, not_found
from gateway.web.routes.charges import MAX_IDEMPOTENCY_KEY
from gateway.web.schemas import VoidRequest, parse_body
from gateway.web.void_view import void_answer, void_view

routes = web.RouteTableDef()


def charge_id_of(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["charge_id"])
    except ValueError:
        raise not_found("charge") from None


def idempotency_key_of(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise IdempotencyKeyMissing(
            f"The Idempotency-Key header is required (1 to {MAX_IDEMPOTENCY_KEY} characters).", param="Idempotency-Key"
        )
    return key


@routes.post("/v1/charges/{charge_id}/void")
async def void_charge(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal")
    key = idempotency_key_of(request)
    charge_id = charge_id_of(request)
    body = parse_body(VoidRequest, await request.read())
    request_hash = hashlib.sha256(
        orjson.dumps({"void": str(charge_id), **body.model_dump()}, option=orjson.OPT_SORT_KEYS)
    ).digest()
    void = await services(request).voids.request(
        charge_id,
        office_id=caller.office_id,
        requested_by=caller.key_id,
        reason=body.reason,
        reason_text=body.reason_text,
        idempotency_key=key,
        request_hash=request_hash,
    )
    status, answer = void_answer(void)
    return json_response(answer, status=status)


@routes.get("/v1/charges/{charge_id}/void")
async def read_void(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal", "regulator", "admin")
    void = await void_of_charge(services(request).pool, charge_id_of(request))
    if void is None or (caller.role == "terminal" and void.office_id != caller.office_id):
        raise not_found("void")
    return json_response(void_view(void))
