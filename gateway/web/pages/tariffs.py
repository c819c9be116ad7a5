"""The office's tariff sheet: a public page of the tariffs in force today for each service assigned to the office,
and the same as an A4 poster (PDF) with a QR code back to the page."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.core.tariff_sheet import TariffSheet, tariff_sheet
from gateway.registry.tariff_poster import render_poster, sheet_url
from gateway.web.context import services
from gateway.web.errors import not_found
from gateway.web.pages.rendering import PAGE_HEADERS, render

routes = web.RouteTableDef()


def _sheet(request: web.Request) -> TariffSheet:
    svc = services(request)
    try:
        return tariff_sheet(svc.state.registry, svc.state.tariffs, request.match_info["office_id"], svc.clock())
    except KeyError:
        raise not_found("office") from None


@routes.get("/offices/{office_id}/tariffs")
async def tariff_page(request: web.Request) -> web.Response:
    return render(request, "tariff_sheet.html", {"sheet": _sheet(request)})


@routes.get("/offices/{office_id}/tariffs.pdf")
async def tariff_poster(request: web.Request) -> web.Response:
    sheet = _sheet(request)
    settings = services(request).settings
    url = sheet_url(settings.public_base_url, sheet.office.id)
    body = await asyncio.get_running_loop().run_in_executor(None, render_poster, sheet, url, str(settings.receipt_font))
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            **PAGE_HEADERS,
            "Content-Disposition": f'inline; filename="tariffs-{sheet.office.id}-{sheet.day.replace("/", "")}.pdf"',
        },
    )
