"""The regulator's console: the overview of a Jalali period, the offices, one office's page (licence, terminals,
a day's charges and refusals, findings with their evidence, the six-month scorecard, the receipt chain audit) and
the findings behind every number. Inspectors only; a provincial inspector sees only their province's offices.

    GET  /console                                   overview: ?from=&to= (Jalali days)
    GET  /console/offices                           offices: ?province=&kind=&status=&findings=&sort=&from=&to=
    GET  /console/offices/{office_id}               one office: ?day= (charges, refusals), ?period= (scorecard)
    GET  /console/offices/{office_id}/charges.csv   the day's charges, as the API's list
    GET  /console/offices/{office_id}/refusals.csv  the day's refusals, as the API's list
    POST /console/offices/{office_id}/chain-audit   the whole receipt chain checked on the server
    GET  /console/findings                          findings with their evidence: ?type=&province=&office_id=&from=&to=
    GET  /console/findings.csv                      the same, as the API's CSV
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jdatetime
from aiohttp import web

from gateway.core.errors import InvalidRequest, ResourceMissing
from gateway.core.jalali import day_start_utc, format_jalali_date, parse_jalali_date, tehran_date
from gateway.core.periods import HalfYear
from gateway.core.registry import Office
from gateway.core.text import normalize_persian
from gateway.oversight import office_records, overview, store
from gateway.oversight.catalog import VIOLATION_TYPES
from gateway.oversight.scorecard import office_scorecard
from gateway.people.accounts import Person
from gateway.platform.replica import LaggingReads
from gateway.web.context import services
from gateway.web.listing import send_csv
from gateway.web.pages.labels import LICENCE_STATUSES, OFFICE_KINDS
from gateway.web.pages.rendering import checked_form, render
from gateway.web.pages.signin import require_person
from gateway.web.routes.regulator import (
    CHARGE_COLUMNS,
    OFFICE_REFUSAL_COLUMNS,
    VIOLATION_COLUMNS,
    charge_row_view,
    flat_row,
    refusal_row_view,
    violation_view,
)

routes = web.RouteTableDef()
INSPECTORS = ("regulator",)
DAY_ROWS = 500  # a day's charges or refusals shown on the page; the CSV has all
FINDING_ROWS = 200
# The findings list's `set_aside`: the overview's counts link to `exclude`, its count of set-aside findings to `only`.
SET_ASIDE_FILTERS = {"exclude": False, "only": True}
SORTS = {
    "id": lambda o, n: o.id,
    "name": lambda o, n: o.name,
    "province": lambda o, n: (o.province, o.id),
    "findings": lambda o, n: (-n, o.id),
}


@dataclass(frozen=True)
class Period:
    first: jdatetime.date
    last: jdatetime.date

    @property
    def since(self) -> datetime:
        return day_start_utc(self.first)

    @property
    def until(self) -> datetime:
        return day_start_utc(self.last + timedelta(days=1))

    def query(self) -> str:
        return f"from={format_jalali_date(self.first)}&to={format_jalali_date(self.last)}"


def _jalali_day(request: web.Request, name: str, default: jdatetime.date) -> jdatetime.date:
    raw = normalize_persian(request.query.get(name, "")).strip()
    if not raw:
        return default
    try:
        return parse_jalali_date(raw)
    except ValueError:
        raise InvalidRequest("یک روز به تقویم شمسی بنویسید، مانند ۱۴۰۳/۰۷/۰۱.", param=name) from None


def _today(request: web.Request) -> jdatetime.date:
    return jdatetime.date.fromgregorian(date=tehran_date(services(request).clock()))


def _period(request: web.Request) -> Period:
    """`from` and `to` (Jalali days, both included); by default the current six-month period up to today."""
    today = _today(request)
    period = Period(
        _jalali_day(request, "from", HalfYear.containing(services(request).clock()).first_day),
        _jalali_day(request, "to", today),
    )
    if period.last < period.first:
        raise InvalidRequest("روز پایان پیش از روز آغاز است.", param="to")
    return period


def _reads(request: web.Request) -> LaggingReads:
    """The console only reads, and may lag: the streaming replica when there is one (docs/scaling.md). The
    objections' pages, which show an inspector's own decision right after it, read the primary."""
    return services(request).lagging_reads


def _offices_in_scope(request: web.Request, person: Person) -> list[Office]:
    return sorted(person.offices_seen(services(request).state.registry), key=lambda o: o.id)


def _office(request: web.Request, person: Person) -> Office:
    """The office of the path, if the inspector may see it; another province's office is as missing as none."""
    office = services(request).state.registry.offices.get(request.match_info["office_id"])
    if office is None or not person.sees_office(office):
        raise ResourceMissing("No such office.")
    return office


def finding_item(view: Callable, row) -> dict:
    """A finding as the API lists it, with its instants for the page's Jalali dates."""
    return view(row) | {"occurred": row["occurred_at"], "set_aside_on": row["set_aside_at"]}


def _common(person: Person, **context) -> dict:
    return {"person": person, "types": VIOLATION_TYPES, "kinds": OFFICE_KINDS, "statuses": LICENCE_STATUSES, **context}


# ------------------------------------------------------------------ overview


@routes.get("/console")
async def console_overview(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    period = _period(request)
    offices = _offices_in_scope(request, person)
    summary = await overview.overview(
        _reads(request),
        [o.id for o in offices],
        period.first.togregorian(),
        period.last.togregorian(),
        period.since,
        period.until,
    )
    provinces: dict[str, overview.Totals] = {}
    for office in offices:
        totals = summary.by_office.get(office.id)
        if totals is not None:
            for code, count in totals.by_type.items():
                if count:
                    provinces.setdefault(office.province, overview.Totals()).add(code, count, 0)
    weekly = [
        {"week": format_jalali_date(jdatetime.date.fromgregorian(date=week)), "findings": count}
        for week, count in summary.weekly
    ]
    return render(
        request,
        "console_overview.html",
        _common(
            person,
            period=period,
            summary=summary,
            provinces=dict(sorted(provinces.items())),
            weekly=weekly,
        ),
    )


# ------------------------------------------------------------------ offices


@routes.get("/console/offices")
async def console_offices(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    period = _period(request)
    offices = _offices_in_scope(request, person)
    chosen = {name: normalize_persian(request.query.get(name, "")).strip() for name in ("province", "kind", "status")}
    provinces = sorted({o.province for o in offices})
    for name, value in chosen.items():
        if value:
            offices = [o for o in offices if getattr(o, name) == value]
    findings = await overview.findings_per_office(
        _reads(request), [o.id for o in offices], period.first.togregorian(), period.last.togregorian()
    )
    if request.query.get("findings") == "some":
        offices = [o for o in offices if findings.get(o.id)]
    elif request.query.get("findings") == "none":
        offices = [o for o in offices if not findings.get(o.id)]
    sort = request.query.get("sort", "id")
    offices.sort(key=lambda o: SORTS.get(sort, SORTS["id"])(o, findings.get(o.id, 0)))
    registry = services(request).state.registry
    today = tehran_date(services(request).clock())
    rows = [
        {
            "office": o,
            "findings": findings.get(o.id, 0),
            "licence_active": o.licence_active_on(today),
            "terminals": sum(1 for t in registry.terminals.values() if t.office_id == o.id),
        }
        for o in offices
    ]
    return render(
        request,
        "console_offices.html",
        _common(
            person,
            period=period,
            rows=rows,
            provinces=provinces,
            chosen=chosen,
            sort=sort,
            findings_filter=request.query.get("findings", ""),
        ),
    )


def _day(request: web.Request) -> tuple[jdatetime.date, datetime, datetime]:
    day = _jalali_day(request, "day", _today(request))
    return day, day_start_utc(day), day_start_utc(day + timedelta(days=1))


def _scorecard_period(request: web.Request) -> HalfYear:
    raw = request.query.get("period")
    if not raw:
        return HalfYear.containing(services(request).clock())
    try:
        return HalfYear.parse(raw)
    except ValueError:
        raise InvalidRequest("دورهٔ شش‌ماهه را مانند ۱۴۰۳-H1 بنویسید.", param="period") from None


async def office_context(request: web.Request, person: Person, office: Office) -> dict:
    """What the office's page shows; the office manager's own page shows the same findings and scorecard."""
    svc = services(request)
    registry = svc.state.registry
    period = _scorecard_period(request)
    card = await office_scorecard(svc.lagging_reads, office, period, svc.oversight.rules, now=svc.clock())
    view = violation_view(request)
    where = store.FindingFilter(since=period.starts_at, until=period.ends_before, office_ids=[office.id])
    findings = await store.fetch(svc.lagging_reads, store.violations_query(where, None, FINDING_ROWS))
    terminals = sorted(
        (t for t in registry.terminals.values() if t.office_id == office.id), key=lambda t: t.terminal_id
    )
    return _common(
        person,
        office=office,
        terminals=[(t, registry.psps[t.psp_id]) for t in terminals],
        licence_active=office.licence_active_on(tehran_date(svc.clock())),
        licence_dates=[
            format_jalali_date(jdatetime.date.fromgregorian(date=day))
            for day in (office.licence_valid_from, office.licence_valid_to)
        ],
        scorecard=card,
        scorecard_period=period,
        findings=[finding_item(view, row) for row in findings],
        today=tehran_date(svc.clock()),
    )


@routes.get("/console/offices/{office_id}")
async def console_office(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    office = _office(request, person)
    day, since, until = _day(request)
    pool = _reads(request)
    charges = await store.fetch(pool, office_records.charges_query(office.id, since, until, None, DAY_ROWS))
    refusals = await store.fetch(pool, office_records.refusals_query(office.id, since, until, None, DAY_ROWS))
    context = await office_context(request, person, office)
    return render(
        request,
        "console_office.html",
        {
            **context,
            "day": day,
            "day_text": format_jalali_date(day),
            "charges": charges,
            "refusals": refusals,
            "audit": None,
        },
    )


async def _csv_of(request: web.Request, query, view: Callable) -> AsyncIterator[dict]:
    async with _reads(request).acquire() as conn:
        async for row in store.stream(conn, query):
            yield flat_row(view(row))


@routes.get("/console/offices/{office_id}/charges.csv")
async def console_office_charges_csv(request: web.Request) -> web.StreamResponse:
    office = _office(request, await require_person(request, INSPECTORS))
    day, since, until = _day(request)
    query = office_records.charges_query(office.id, since, until, None, None)
    name = f"charges-{office.id}-{format_jalali_date(day).replace('/', '')}.csv"
    return await send_csv(request, name, CHARGE_COLUMNS, _csv_of(request, query, charge_row_view))


@routes.get("/console/offices/{office_id}/refusals.csv")
async def console_office_refusals_csv(request: web.Request) -> web.StreamResponse:
    office = _office(request, await require_person(request, INSPECTORS))
    day, since, until = _day(request)
    query = office_records.refusals_query(office.id, since, until, None, None)
    name = f"refusals-{office.id}-{format_jalali_date(day).replace('/', '')}.csv"
    return await send_csv(request, name, OFFICE_REFUSAL_COLUMNS, _csv_of(request, query, refusal_row_view))


@routes.post("/console/offices/{office_id}/chain-audit")
async def console_chain_audit(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    await checked_form(request)
    office = _office(request, person)
    svc = services(request)
    report = await office_records.audit_office_chain(svc.lagging_reads, office.id, svc.keyring)
    return render(request, "console_chain_audit.html", _common(person, office=office, report=report))


# ------------------------------------------------------------------ findings behind the numbers


def _finding_filter(request: web.Request, person: Person, period: Period) -> store.FindingFilter:
    offices = _offices_in_scope(request, person)
    if province := normalize_persian(request.query.get("province", "")).strip():
        offices = [o for o in offices if o.province == province]
    if office_id := normalize_persian(request.query.get("office_id", "")).strip():
        offices = [o for o in offices if o.id == office_id]
    finding_type = request.query.get("type", "")
    types = [finding_type] if finding_type in VIOLATION_TYPES else None
    set_aside = SET_ASIDE_FILTERS.get(request.query.get("set_aside", ""))
    return store.FindingFilter(period.since, period.until, [o.id for o in offices], types, set_aside)


@routes.get("/console/findings")
async def console_findings(request: web.Request) -> web.Response:
    person = await require_person(request, INSPECTORS)
    period = _period(request)
    where = _finding_filter(request, person, period)
    rows = await store.fetch(_reads(request), store.violations_query(where, None, FINDING_ROWS + 1))
    view = violation_view(request)
    return render(
        request,
        "console_findings.html",
        _common(
            person,
            period=period,
            findings=[finding_item(view, row) for row in rows[:FINDING_ROWS]],
            set_aside_filter=where.set_aside,
            more=len(rows) > FINDING_ROWS,
            query_string=request.query_string,
            chosen_type=request.query.get("type", ""),
        ),
    )


@routes.get("/console/findings.csv")
async def console_findings_csv(request: web.Request) -> web.StreamResponse:
    person = await require_person(request, INSPECTORS)
    where = _finding_filter(request, person, _period(request))
    return await send_csv(
        request,
        "violations.csv",
        VIOLATION_COLUMNS,
        _csv_of(request, store.violations_query(where, None, None), violation_view(request)),
    )
