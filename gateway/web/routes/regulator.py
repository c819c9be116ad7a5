"""The regulator's oversight queries (regulator keys only; each one is written to the access log).

    GET /v1/regulator/excess-fees?from=&to=&office_id=&province=&type=     findings per office, operator, service
    GET /v1/regulator/violations?from=&to=&office_id=&province=&type=      findings with their evidence
    GET /v1/regulator/offices/{office_id}/scorecard?period=1403-H1         indicators and penalty suggestions
    GET /v1/regulator/access-log/heads                                       the access log's signed chain heads
    POST /v1/regulator/access-log/heads                                      sign the current head now

Lists come in pages (`limit`, then `cursor` = the `next_cursor` of the page before), in (office, ...) order.
Every answer is JSON, or CSV with `?format=csv` or `Accept: text/csv`; a list's CSV is the whole list from
`cursor` on, streamed. `from` is inclusive and `to` exclusive; each is an RFC 3339 instant or a day (YYYY-MM-DD
Gregorian or YYYY/MM/DD Jalali) in Tehran, where a day in `to` is included whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta

import orjson
from aiohttp import web

from gateway.core.jalali import TEHRAN, day_start_utc, format_jalali_datetime, format_utc, parse_jalali_date
from gateway.core.periods import HalfYear
from gateway.core.text import normalize_persian
from gateway.oversight import access_log, store
from gateway.oversight.catalog import VIOLATION_TYPES
from gateway.oversight.scorecard import SCORECARD_CSV_COLUMNS, office_scorecard, scorecard_csv_rows
from gateway.platform.csv_text import csv_text
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import invalid_request, json_response, not_found
from gateway.web.listing import encode_cursor, page_cursor, page_limit, send_csv, wants_csv

routes = web.RouteTableDef()
DEFAULT_PAGE = 100
_GREGORIAN_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_OFFICE_ID = re.compile(r"[0-9]{8}")


# ------------------------------------------------------------------ query parameters


def _instant(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None or not raw.strip():
        return None
    text = normalize_persian(raw).strip()
    problem = invalid_request(
        f"`{name}` must be an RFC 3339 instant with a time zone, or a day written YYYY-MM-DD or YYYY/MM/DD (Jalali).",
        param=name,
    )
    try:
        if "/" in text:
            day_start = day_start_utc(parse_jalali_date(text))
        elif _GREGORIAN_DAY.fullmatch(text):
            day_start = datetime.fromisoformat(text).replace(tzinfo=TEHRAN).astimezone(UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise problem
            return moment
        return day_start + timedelta(days=1) if name == "to" else day_start
    except (ValueError, OverflowError):  # OverflowError: a day at the very edge of the calendar
        raise problem from None


def _office_ids(request: web.Request) -> list[str] | None:
    """The offices the `office_id` and `province` filters leave (None: every office)."""
    offices = services(request).state.registry.offices
    chosen: set[str] | None = None
    if "office_id" in request.query:
        office_id = normalize_persian(request.query["office_id"]).strip()
        if not _OFFICE_ID.fullmatch(office_id):
            raise invalid_request("`office_id` must be an 8-digit office code.", param="office_id")
        chosen = {office_id}
    if "province" in request.query:
        province = normalize_persian(request.query["province"]).strip()
        in_province = {office.id for office in offices.values() if office.province == province}
        chosen = in_province if chosen is None else chosen & in_province
    return None if chosen is None else sorted(chosen)


def _types(request: web.Request) -> list[str] | None:
    if "type" not in request.query:
        return None
    types = [t.strip() for t in request.query["type"].split(",") if t.strip()]
    unknown = sorted(set(types) - VIOLATION_TYPES.keys())
    if not types or unknown:
        raise invalid_request(
            f"`type` must be a comma-separated list of: {', '.join(VIOLATION_TYPES)}.",
            param="type",
            details={"unknown": unknown},
        )
    return types


def _filter(request: web.Request) -> store.FindingFilter:
    since, until = _instant(request, "from"), _instant(request, "to")
    if since is not None and until is not None and since >= until:
        raise invalid_request("`from` must be before `to`.", param="from")
    return store.FindingFilter(since=since, until=until, office_ids=_office_ids(request), types=_types(request))


async def _regulator(request: web.Request) -> None:
    require_role(await principal(request), "regulator")


# ------------------------------------------------------------------ lists: a page of JSON, or all of it as CSV

QueryOf = Callable[[tuple | None, int | None], store.Query]  # (after, limit or None for all) → the query


async def _csv_rows(request: web.Request, query: store.Query, view: Callable) -> AsyncIterator[dict]:
    async with services(request).lagging_reads.acquire() as conn:
        async for row in store.stream(conn, query):
            yield _flat(view(row))


async def _list(
    request: web.Request,
    *,
    kind: str,
    cursor_types: tuple[type, ...],
    query: QueryOf,
    key: Callable,
    view: Callable,
    csv_columns: Sequence[str],
    about: dict,
) -> web.StreamResponse:
    after = page_cursor(request, kind, cursor_types)
    if wants_csv(request):
        return await send_csv(request, f"{kind}.csv", csv_columns, _csv_rows(request, query(after, None), view))
    limit = page_limit(request, DEFAULT_PAGE)
    pool = services(request).lagging_reads
    rows = await store.fetch(pool, query(after, limit + 1))
    page = rows[:limit]
    return json_response(
        {
            "object": "list",
            **about,
            "data": [view(row) for row in page],
            "has_more": len(rows) > limit,
            "next_cursor": encode_cursor(kind, key(page[-1])) if len(rows) > limit else None,
            "detected_through": _utc(await store.detection_reach(pool)),
        }
    )


def _flat(view: dict) -> dict:
    return {
        name: orjson.dumps(value).decode() if isinstance(value, (dict, list)) else value for name, value in view.items()
    }


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


def _about(where: store.FindingFilter) -> dict:
    return {
        "filters": {
            "from": _utc(where.since),
            "to": _utc(where.until),
            "office_ids": where.office_ids,
            "types": where.types,
        }
    }


# ------------------------------------------------------------------ excess fees: findings per office, operator, service

SUMMARY_COLUMNS = (
    "office_id",
    "office_name",
    "province",
    "operator_id",
    "service_code",
    "findings",
    *VIOLATION_TYPES,
    "refused_over_cap",
    "collected_over_cap",
    "offbook_amount",
    "first_at",
    "last_at",
)


def _summary_view(request: web.Request):
    offices = services(request).state.registry.offices

    def view(row) -> dict:
        office = offices.get(row["office_id"])
        return {
            "office_id": row["office_id"],
            "office_name": office.name if office else None,
            "province": office.province if office else None,
            "operator_id": row["operator_id"] or None,
            "service_code": row["service_code"] or None,
            "findings": row["findings"],
            **{code: row[code] for code in VIOLATION_TYPES},
            "refused_over_cap": row["refused_over_cap"],
            "collected_over_cap": row["collected_over_cap"],
            "offbook_amount": row["offbook_amount"],
            "first_at": format_utc(row["first_at"]),
            "last_at": format_utc(row["last_at"]),
        }

    return view


@routes.get("/v1/regulator/excess-fees")
async def excess_fees(request: web.Request) -> web.StreamResponse:
    await _regulator(request)
    where = _filter(request)
    return await _list(
        request,
        kind="excess-fees",
        cursor_types=(str, str, str),
        query=lambda after, limit: store.excess_fee_summary_query(where, after, limit),
        key=lambda row: (row["office_id"], row["operator_id"], row["service_code"]),
        view=_summary_view(request),
        csv_columns=SUMMARY_COLUMNS,
        about=_about(where),
    )


# ------------------------------------------------------------------ violations

VIOLATION_COLUMNS = (
    "id",
    "office_id",
    "province",
    "type",
    "obligation",
    "occurred_at",
    "occurred_at_jalali",
    "period",
    "terminal_id",
    "operator_id",
    "service_code",
    "amount",
    "excess",
    "evidence_key",
    "evidence",
    "detected_at",
)


def _violation_view(request: web.Request):
    offices = services(request).state.registry.offices

    def view(row) -> dict:
        kind = VIOLATION_TYPES[row["type"]]
        office = offices.get(row["office_id"])
        return {
            "id": row["id"],
            "object": "violation",
            "office_id": row["office_id"],
            "province": office.province if office else None,
            "type": kind.code,
            "label_fa": kind.label_fa,
            "obligation": kind.obligation.code,
            "money_collected": kind.money_collected,
            "occurred_at": format_utc(row["occurred_at"]),
            "occurred_at_jalali": format_jalali_datetime(row["occurred_at"]),
            "period": HalfYear.containing(row["occurred_at"]).label,
            "terminal_id": row["terminal_id"],
            "operator_id": row["operator_id"],
            "service_code": row["service_code"],
            "amount": row["amount"],
            "excess": row["excess"],
            "evidence_key": row["evidence_key"],
            "evidence": row["evidence"],
            "detected_at": format_utc(row["detected_at"]),
        }

    return view


@routes.get("/v1/regulator/violations")
async def violations(request: web.Request) -> web.StreamResponse:
    await _regulator(request)
    where = _filter(request)
    return await _list(
        request,
        kind="violations",
        cursor_types=(str, datetime, int),
        query=lambda after, limit: store.violations_query(where, after, limit),
        key=lambda row: (row["office_id"], row["occurred_at"], row["id"]),
        view=_violation_view(request),
        csv_columns=VIOLATION_COLUMNS,
        about=_about(where),
    )


# ------------------------------------------------------------------ scorecard


def _period(request: web.Request) -> HalfYear:
    raw = request.query.get("period")
    if raw is None:
        return HalfYear.containing(services(request).clock())
    try:
        return HalfYear.parse(raw)
    except ValueError:
        raise invalid_request(
            "`period` must be a six-month Jalali period such as 1403-H1 or 1403-H2.", param="period"
        ) from None


@routes.get("/v1/regulator/offices/{office_id}/scorecard")
async def scorecard(request: web.Request) -> web.StreamResponse:
    await _regulator(request)
    office = services(request).state.registry.offices.get(request.match_info["office_id"])
    if office is None:
        raise not_found("office")
    period = _period(request)
    svc = services(request)
    card = await office_scorecard(svc.lagging_reads, office, period, svc.oversight.rules, now=svc.clock())
    if wants_csv(request):
        body = csv_text(SCORECARD_CSV_COLUMNS, scorecard_csv_rows(card), header=True)
        return web.Response(
            text=body,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="scorecard-{office.id}-{period.label}.csv"'},
        )
    return json_response(card)


# ------------------------------------------------------------------ the access log's signed heads


@routes.get("/v1/regulator/access-log/heads")
async def access_log_heads(request: web.Request) -> web.Response:
    await _regulator(request)
    return json_response({"data": await access_log.signed_heads(services(request).pool)})


@routes.post("/v1/regulator/access-log/heads")
async def sign_access_log_head(request: web.Request) -> web.Response:
    """Signs the head now (the same head twice gives the same signed head): a fixed point for the regulator to keep."""
    await _regulator(request)
    svc = services(request)
    async with svc.pool.acquire() as db:
        head = await access_log.sign_head(db, svc.keyring, svc.clock)
    if head is None:
        raise not_found("access log entry")
    return json_response(head)
