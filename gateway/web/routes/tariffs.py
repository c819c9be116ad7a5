"""Tariffs (each approval with its approving body's signature), quotes, and the public keys to check them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from gateway.core.charge_rules import quote_for_office
from gateway.core.tariffs import MAX_QUANTITY, ExtraLine, Quote
from gateway.core.text import normalize_persian
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import invalid_request, json_response
from gateway.web.query import parse_instant, whole_number

routes = web.RouteTableDef()
_EXTRA_ITEM = re.compile(r"([a-z][a-z0-9_]{0,39}):([0-9]{1,4})")
MAX_EXTRAS = 20


def _moment(request: web.Request) -> datetime:
    raw = request.query.get("at")
    if raw is None:
        return services(request).clock()
    return parse_instant(raw, "at")


def extras_param(raw: str) -> list[tuple[str, int]]:
    """`scan_page:3,photo:1` → [("scan_page", 3), ("photo", 1)]; empty → []."""
    text = normalize_persian(raw).replace(" ", "")
    if not text:
        return []
    items = text.split(",")
    matches = [_EXTRA_ITEM.fullmatch(item) for item in items[: MAX_EXTRAS + 1]]
    if len(items) > MAX_EXTRAS or not all(matches):
        raise invalid_request(
            f"`extras` is a comma-separated list of code:quantity (e.g. scan_page:3), at most {MAX_EXTRAS} items.",
            param="extras",
        )
    return [(match.group(1), int(match.group(2))) for match in matches if match]


def quote_answer(quote: Quote, offered: list[ExtraLine]) -> dict:
    """The quote's breakdown, and every extra the service offers (one unit's cap each) so a client can add them."""
    return {
        **quote.breakdown,
        "extras_offered": [{"code": e.code, "name": e.name, "unit_cap": e.unit_cap} for e in offered],
    }


async def office_quote(request: web.Request, office_id: str) -> dict:
    """The quote of the query's service, quantity and extras for this office now."""
    service_code = normalize_persian(request.query.get("service_code", ""))
    if not service_code:
        raise invalid_request("`service_code` is required.", param="service_code")
    quantity = whole_number(request.query.get("quantity", "1"), "quantity", 1, MAX_QUANTITY)
    extras = extras_param(request.query.get("extras", ""))
    state = services(request).state
    moment = _moment(request)
    quote = quote_for_office(state.registry, state.tariffs, office_id, service_code, quantity, extras, moment)
    offered = state.tariffs.extras_offered(service_code, state.registry.offices[office_id].kind, moment)
    return quote_answer(quote, offered)


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
    assert caller.office_id is not None  # a terminal key belongs to an office
    return json_response(await office_quote(request, caller.office_id))


@routes.get("/v1/keys")
async def signing_keys(request: web.Request) -> web.Response:
    return json_response({"data": services(request).keyring.public_keys()})
