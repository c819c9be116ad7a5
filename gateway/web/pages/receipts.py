"""The citizen's receipt page, behind the SMS link (`/r/{tracking code}/{secret}`) and the printed QR code
(`/q/{signed payload}`). By tracking code alone (`/r/{tracking code}`) it tells only whether such a receipt exists
and is genuine: tracking codes are sequential, so the amount, the service and the office's volume are shown only to
whoever holds the link or the QR. Nothing personal of the recipient is ever shown."""

from __future__ import annotations

from aiohttp import web

from gateway.core.identifiers import is_valid_tracking_code
from gateway.core.text import normalize_persian
from gateway.receipt_book.standing import Standing, standing_of, standing_of_scan
from gateway.web.context import services
from gateway.web.errors import not_found
from gateway.web.pages.rendering import render, wants_page
from receipts.model import field_value, parse_timestamp

routes = web.RouteTableDef()


def _details(request: web.Request, standing: Standing) -> dict:
    """What the paper receipt shows, less the recipient's name and the operator (the citizen needs neither here)."""
    document = standing.signed["receipt"]
    office = services(request).state.registry.offices.get(standing.office_id)
    return {
        "service_name": field_value(document, "service_name"),
        "amount": field_value(document, "amount"),
        "issued_at": parse_timestamp(field_value(document, "issued_at")),
        "office_id": standing.office_id,
        "office_name": office.name if office else None,
        "licence_holder": field_value(document, "licence_holder"),
        "licence_number": field_value(document, "licence_number"),
        "office_address": field_value(document, "office_address"),
    }


def _page(request: web.Request, standing: Standing, *, genuine: bool, detailed: bool) -> web.Response:
    return render(
        request,
        "receipt.html",
        {
            "tracking_code": standing.tracking_code,
            "genuine": genuine,
            "details": _details(request, standing) if genuine and detailed else None,
            "limited": not detailed,
            "cancellation": standing.cancellation if genuine else None,
        },
    )


def _unknown(request: web.Request) -> web.Response:
    """A Persian page for a browser; machines get the JSON error shape like everywhere else."""
    if not wants_page(request):
        raise not_found("receipt")
    return render(request, "receipt_unknown.html", status=404)


async def _standing(request: web.Request) -> Standing | None:
    code = normalize_persian(request.match_info["tracking_code"])
    if not is_valid_tracking_code(code):
        return None
    return await standing_of(services(request).pool, services(request).keyring, code)


@routes.get("/r/{tracking_code}")
async def receipt_by_code(request: web.Request) -> web.Response:
    standing = await _standing(request)
    if standing is None:
        return _unknown(request)
    return _page(request, standing, genuine=standing.genuine, detailed=False)


@routes.get("/r/{tracking_code}/{secret}")
async def receipt_by_link(request: web.Request) -> web.Response:
    standing = await _standing(request)
    if standing is None:
        return _unknown(request)
    holds_link = services(request).links.opens(standing.tracking_code, request.match_info["secret"])
    return _page(request, standing, genuine=standing.genuine, detailed=holds_link)


@routes.get("/q/{payload}")
async def receipt_by_qr(request: web.Request) -> web.Response:
    scanned = await standing_of_scan(services(request).pool, services(request).keyring, request.match_info["payload"])
    if scanned.standing is None:
        return _unknown(request)
    return _page(request, scanned.standing, genuine=scanned.genuine, detailed=scanned.signature_ok)
