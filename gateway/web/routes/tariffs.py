"""Tariffs (each approval with its approving body's signature), quotes, and the public keys to check them."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from gateway.core.errors import ServiceNotAssigned
from gateway.core.text import normalize_persian
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import invalid_request, json_response
from gateway.web.query import parse_instant, whole_number

routes = web.RouteTableDef()


def _moment(request: web.Request) -> datetime:
    raw = request.query.get("at")
    if raw is None:
        return services(request).clock()
    return parse_instant(raw, "at")


@routes.get("/v1/tariffs")
async def tariffs_in_force(request: web.Request) -> web.Response:
    moment = _moment(request)
    tables = services(request).state.tariffs.tables_in_force(moment)
    return json_response({"at": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"), "data": tables})


@routes.get("/v1/tariffs/keys")
async def approver_keys(request: web.Request) -> web.Response:
    return json_response({"data": services(request).state.approvers.public_keys()})


@routes.get("/v1/tariffs/quote")
async def tariff_quote(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal")
    service_code = normalize_persian(request.query.get("service_code", ""))
    if not service_code:
        raise invalid_request("`service_code` is required.", param="service_code")
    quantity = whole_number(request.query.get("quantity", "1"), "quantity", 1, 1000)
    state = services(request).state
    assert caller.office_id is not None  # a terminal key belongs to an office
    office = state.registry.offices[caller.office_id]
    if service_code not in office.services:
        raise ServiceNotAssigned(param="service_code")
    quote = state.tariffs.quote(service_code, quantity, [], office.kind, _moment(request))
    return json_response(quote.breakdown)


@routes.get("/v1/keys")
async def signing_keys(request: web.Request) -> web.Response:
    return json_response({"data": services(request).keyring.public_keys()})
