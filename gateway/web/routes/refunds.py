"""POST /v1/charges/{id}/refund and GET /v1/charges/{id}/refund."""

from __future__ import annotations

import hashlib

import orjson
from aiohttp import web

from gateway.charging.refund_store import refund_of_charge
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import json_response, not_found
from gateway.web.refund_view import refund_answer, refund_view
from gateway.web.routes.voids import charge_id_of, idempotency_key_of
from gateway.web.schemas import VoidRequest, parse_body

routes = web.RouteTableDef()


@routes.post("/v1/charges/{charge_id}/refund")
async def refund_charge(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal")
    key = idempotency_key_of(request)
    charge_id = charge_id_of(request)
    body = parse_body(VoidRequest, await request.read())
    request_hash = hashlib.sha256(
        orjson.dumps({"refund": str(charge_id), **body.model_dump()}, option=orjson.OPT_SORT_KEYS)
    ).digest()
    refund = await services(request).refunds.request(
        charge_id,
        office_id=caller.office_id,
        requested_by=caller.key_id,
        reason=body.reason,
        reason_text=body.reason_text,
        idempotency_key=key,
        request_hash=request_hash,
    )
    status, answer = refund_answer(refund)
    return json_response(answer, status=status)


@routes.get("/v1/charges/{charge_id}/refund")
async def read_refund(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal", "regulator", "admin")
    refund = await refund_of_charge(services(request).pool, charge_id_of(request))
    if refund is None or (caller.role == "terminal" and refund.office_id != caller.office_id):
        raise not_found("refund")
    return json_response(refund_view(refund))
