"""An agency's own view: its settlement statement for a Tehran day, read as the agency statement API reads it
(`GET /v1/agencies/{agency_id}/settlements`), with the day's totals and the same CSV. Agency people only, each
seeing their own agency: the agency is the signed-in person's, never a parameter.

    GET /agency                  the statement: ?day= (a Jalali day; today by default)
    GET /agency/statement.csv    the same day as the API's CSV
"""

from __future__ import annotations

import jdatetime
from aiohttp import web

from gateway.core.errors import InvalidRequest
from gateway.core.jalali import format_jalali_date, parse_jalali_date, tehran_date, tehran_day
from gateway.core.text import normalize_persian
from gateway.people.accounts import Person
from gateway.web.context import services
from gateway.web.pages.rendering import render
from gateway.web.pages.signin import require_person
from gateway.web.routes.settlements import statement_csv, statement_page

routes = web.RouteTableDef()
AGENCY_STAFF = ("agency",)
STATEMENT_ROWS = 500  # rows shown on the page; the CSV has the whole day


def _day(request: web.Request) -> jdatetime.date:
    raw = normalize_persian(request.query.get("day", "")).strip()
    if not raw:
        return jdatetime.date.fromgregorian(date=tehran_date(services(request).clock()))
    try:
        return parse_jalali_date(raw)
    except ValueError:
        raise InvalidRequest("یک روز به تقویم شمسی بنویسید، مانند ۱۴۰۳/۰۷/۰۱.", param="day") from None


def _agency_id(person: Person) -> str:
    return str(person.agency_id)


@routes.get("/agency")
async def agency_statement_page(request: web.Request) -> web.Response:
    person = await require_person(request, AGENCY_STAFF)
    svc = services(request)
    registry = svc.state.registry
    jalali_day = _day(request)
    day = tehran_day(jalali_day.togregorian())
    totals, rows, more = await statement_page(svc.lagging_reads, _agency_id(person), day, None, STATEMENT_ROWS)
    return render(
        request,
        "agency_statement.html",
        {
            "person": person,
            "agency": registry.agencies[_agency_id(person)],
            "offices": registry.offices,
            "services": registry.services,
            "day_text": format_jalali_date(jalali_day),
            "totals": totals,
            "rows": rows,
            "more": more,
        },
    )


@routes.get("/agency/statement.csv")
async def agency_statement_csv(request: web.Request) -> web.StreamResponse:
    person = await require_person(request, AGENCY_STAFF)
    day = tehran_day(_day(request).togregorian())
    return await statement_csv(request, services(request).lagging_reads, _agency_id(person), day)
