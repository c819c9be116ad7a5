"""The regulator's oversight queries (regulator keys only; each one is written to the access log).

    GET /v1/regulator/excess-fees?from=&to=&office_id=&province=&type=     findings per office, operator, service
    GET /v1/regulator/violations?from=&to=&office_id=&province=&type=      findings with their evidence
    GET /v1/regulator/offices/{office_id}/scorecard?period=1403-H1         indicators and penalty suggestions

Lists come in pages (`limit`, then `cursor` = the `next_cursor` of the page before), in (office, ...) order.
Every answer is JSON, or CSV with `?format=csv` or `Accept: text/csv`; a list's CSV is the whole list from
`cursor` on, streamed. `from` is inclusive and `to` exclusive; each is an RFC 3339 instant or a day (YYYY-MM-DD
Gregorian or YYYY/MM/DD Jalali) in Tehran, where a day in `to` is included whole.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import orjson
from aiohttp import web

from gateway.domain.jalali import TEHRAN, day_start_utc, format_jalali_datetime, format_utc, parse_jalali_date
from gateway.domain.periods import HalfYear
from gateway.domain.text import normalize_persian
from gateway.http.auth import require_role
from gateway.http.context import principal, services
from gateway.http.errors import invalid_request, json_response, not_found
from gateway.oversight.catalog import VIOLATION_TYPES
from gateway.oversight.paging import BadCursor, decode_cursor, encode_cursor
from gateway.oversight.runtime import OVERSIGHT
from gateway.oversight.scorecard import SCORECARD_CSV_COLUMNS, office_scorecard, scorecard_csv_rows
from gateway.reconciliation.csv_text import csv_text
from gateway.storage import oversight_store as store

routes = web.RouteTableDef()
DEFAULT_PAGE = 100
MAX_PAGE = 1000
_GREGORIAN_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_OFFICE_ID = re.compile(r"[0-9]{8}")


# ------------------------------------------------------------------ query parameters

def _instant(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None or not raw.strip():
        return None
    text = normalize_persian(raw).strip()
    problem = invalid_request(f"`{name}` must be an RFC 3339 instant with a time zone, or a day written YYYY-MM-DD "
                              "or YYYY/MM/DD (Jalali).", param=name)
    try:
        if "/" in text:
            day_start = day_start_utc(parse_jalali_date(text))
        elif _GREGORIAN_DAY.fullmatch(text):
            day_start = datetime.fromisoformat(text).replace(tzinfo=TEHRAN).astimezone(timezone.utc)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise problem
            return moment
        return day_start + timedelta(days=1) if name == "to" else day_start
    except (ValueError, OverflowError):   # OverflowError: a day at the very edge of the calendar
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
        raise invalid_request(f"`type` must be a comma-separated list of: {', '.join(VIOLATION_TYPES)}.",
                              param="type", details={"unknown": unknown})
    return types


def _filter(request: web.Request) -> store.FindingFilter:
    since, until = _instant(request, "from"), _instant(request, "to")
    if since is not None and until is not None and since >= until:
        raise invalid_request("`from` must be before `to`.", param="from")
    return store.FindingFilter(since=since, until=until, office_ids=_office_ids(request), types=_types(request))


def _limit(request: web.Request) -> int:
    raw = normalize_persian(request.query.get("limit", str(DEFAULT_PAGE)))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise invalid_request(f"`limit` must be a whole number from 1 to {MAX_PAGE}.", param="limit")
    return int(raw)


def _cursor(request: web.Request, kind: str, types: tuple[type, ...]) -> tuple | None:
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        return decode_cursor(kind, raw, types)
    except BadCursor as error:
        raise invalid_request(f"`cursor`: {error}.", param="cursor") from None


def _wants_csv(request: web.Request) -> bool:
    chosen = request.query.get("format")
    if chosen is not None:
        if chosen not in ("json", "csv"):
            raise invalid_request("`format` must be json or csv.", param="format")
        return chosen == "csv"
    return "text/csv" in request.headers.get("Accept", "")


async def _regulator(request: web.Request) -> None:
    require_role(await principal(request), "regulator")


# ------------------------------------------------------------------ lists: a page of JSON, or all of it as CSV

QueryOf = Callable[[tuple | None, int | None], store.Query]   # (after, limit or None for all) → the query
_CSV_BATCH = 500


async def _csv_download(request: web.Request, filename: str, columns: Sequence[str], query: store.Query,
                        view: Callable) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)
    await response.write(csv_text(columns, [], header=True).encode())
    batch: list[dict] = []
    async with services(request).pool.acquire() as conn:
        async for row in store.stream(conn, query):
            batch.append(_flat(view(row)))
            if len(batch) == _CSV_BATCH:
                await response.write(csv_text(columns, batch).encode())
                batch.clear()
    await response.write(csv_text(columns, batch).encode())
    await response.write_eof()
    return response


async def _list(request: web.Request, *, kind: str, cursor_types: tuple[type, ...], query: QueryOf, key: Callable,
                view: Callable, csv_columns: Sequence[str], about: dict) -> web.StreamResponse:
    after = _cursor(request, kind, cursor_types)
    if _wants_csv(request):
        return await _csv_download(request, f"{kind}.csv", csv_columns, query(after, None), view)
    limit = _limit(request)
    pool = services(request).pool
    rows = await store.fetch(pool, query(after, limit + 1))
    page = rows[:limit]
    return json_response({
        "object": "list", **about, "data": [view(row) for row in page], "has_more": len(rows) > limit,
        "next_cursor": encode_cursor(kind, key(page[-1])) if len(rows) > limit else None,
        "detected_through": _utc(await store.detection_reach(pool)),
    })


def _flat(view: dict) -> dict:
    return {name: orjson.dumps(value).decode() if isinstance(value, (dict, list)) else value
            for name, value in view.items()}


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


def _about(where: store.FindingFilter) -> dict:
    return {"filters": {"from": _utc(where.since), "to": _utc(where.until), "office_ids": where.office_ids,
                        "types": where.types}}


# ------------------------------------------------------------------ excess fees: findings per office, operator, service

SUMMARY_COLUMNS = ("office_id", "office_name", "province", "operator_id", "service_code", "findings",
                   *VIOLATION_TYPES, "refused_over_cap", "collected_over_cap", "offbook_amount", "first_at", "last_at")


def _summary_view(request: web.Request):
    offices = services(request).state.registry.offices

    def view(row) -> dict:
        office = offices.get(row["office_id"])
        return {"office_id": row["office_id"], "office_name": office.name if office else None,
                "province": office.province if office else None, "operator_id": row["operator_id"] or None,
                "service_code": row["service_code"] or None, "findings": row["findings"],
                **{code: row[code] for code in VIOLATION_TYPES},
                "refused_over_cap": row["refused_over_cap"], "collected_over_cap": row["collected_over_cap"],
                "offbook_amount": row["offbook_amount"], "first_at": format_utc(row["first_at"]),
                "last_at": format_utc(row["last_at"])}
    return view


@routes.get("/v1/regulator/excess-fees")
async def excess_fees(request: web.Request) -> web.StreamResponse:
    await _regulator(request)
    where = _filter(request)
    return await _list(
        request, kind="excess-fees", cursor_types=(str, str, str),
        query=lambda after, limit: store.excess_fee_summary_query(where, after, limit),
        key=lambda row: (row["office_id"], row["operator_id"], row["service_code"]),
        view=_summary_view(request), csv_columns=SUMMARY_COLUMNS, about=_about(where))


# ------------------------------------------------------------------ violations

VIOLATION_COLUMNS = ("id", "office_id", "province", "type", "obligation", "occurred_at", "occurred_at_jalali",
                     "period", "terminal_id", "operator_id", "service_code", "amount", "excess", "evidence_key",
                     "evidence", "detected_at")


def _violation_view(request: web.Request):
    offices = services(request).state.registry.offices

    def view(row) -> dict:
        kind = VIOLATION_TYPES[row["type"]]
        office = offices.get(row["office_id"])
        return {"id": row["id"], "object": "violation", "office_id": row["office_id"],
                "province": office.province if office else None, "type": kind.code, "label_fa": kind.label_fa,
                "obligation": kind.obligation.code, "money_collected": kind.money_collected,
                "occurred_at": format_utc(row["occurred_at"]),
                "occurred_at_jalali": format_jalali_datetime(row["occurred_at"]),
                "period": HalfYear.containing(row["occurred_at"]).label, "terminal_id": row["terminal_id"],
                "operator_id": row["operator_id"], "service_code": row["service_code"], "amount": row["amount"],
                "excess": row["excess"], "evidence_key": row["evidence_key"], "evidence": row["evidence"],
                "detected_at": format_utc(row["detected_at"])}
    return view


@routes.get("/v1/regulator/violations")
async def violations(request: web.Request) -> web.StreamResponse:
    await _regulator(request)
    where = _filter(request)
    return await _list(
        request, kind="violations", cursor_types=(str, datetime, int),
        query=lambda after, limit: store.violations_query(where, after, limit),
        key=lambda row: (row["office_id"], row["occurred_at"], row["id"]),
        view=_violation_view(request), csv_columns=VIOLATION_COLUMNS, about=_about(where))


# ------------------------------------------------------------------ scorecard

def _period(request: web.Request) -> HalfYear:
    raw = request.query.get("period")
    if raw is None:
        return HalfYear.containing(datetime.now(timezone.utc))
    try:
        return HalfYear.parse(raw)
    except ValueError:
        raise invalid_request("`period` must be a six-month Jalali period such as 1403-H1 or 1403-H2.",
                              param="period") from None


@routes.get("/v1/regulator/offices/{office_id}/scorecard")
async def scorecard(request: web.Request) -> web.StreamResponse:
    await _regulator(request)
    office = services(request).state.registry.offices.get(request.match_info["office_id"])
    if office is None:
        raise not_found("office")
    period = _period(request)
    card = await office_scorecard(services(request).pool, office, period, request.app[OVERSIGHT].rules,
                                  now=datetime.now(timezone.utc))
    if _wants_csv(request):
        body = csv_text(SCORECARD_CSV_COLUMNS, scorecard_csv_rows(card), header=True)
        return web.Response(text=body, content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="scorecard-{office.id}-{period.label}.csv"'})
    return json_response(card)


# ------------------------------------------------------------------ OpenAPI (merged by gateway/http/openapi.py)

def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_CSV = {"text/csv": {"schema": {"type": "string"}}}
_ERROR = {"$ref": "#/components/responses/Error"}
_FILTERS = [
    _query("from", {"type": "string"}, "inclusive: an RFC 3339 instant, or a Tehran day YYYY-MM-DD / YYYY/MM/DD"),
    _query("to", {"type": "string"}, "exclusive: an RFC 3339 instant, or a Tehran day (included whole)"),
    _query("office_id", {"type": "string", "pattern": "^[0-9]{8}$"}, "one office"),
    _query("province", {"type": "string"}, "the offices of one province, as the registry names it"),
    _query("type", {"type": "string"}, f"comma-separated finding types: {', '.join(VIOLATION_TYPES)}"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"page size, {DEFAULT_PAGE} unless given"),
    _query("cursor", {"type": "string"}, "the next_cursor of the previous page"),
    _query("format", {"enum": ["json", "csv"]}, "csv: the whole list from `cursor` on (or send Accept: text/csv)"),
]


def _list_of(item: dict) -> dict:
    return {"type": "object", "required": ["object", "data", "has_more", "next_cursor", "detected_through"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": item},
                           "has_more": {"type": "boolean"}, "next_cursor": {"type": ["string", "null"]},
                           "detected_through": {"type": ["string", "null"], "format": "date-time",
                                                "description": "findings are complete up to this instant"},
                           "filters": {"type": "object"}}}


def _read(summary: str, schema: dict, parameters: list) -> dict:
    return {"summary": summary, "security": [{"bearer": []}], "parameters": parameters,
            "responses": {"200": {"description": "JSON, or CSV", "content": {
                "application/json": {"schema": schema}, **_CSV}},
                **{str(status): _ERROR for status in (400, 401, 403, 404)}}}


_COUNT = {"type": "integer"}
_SUMMARY_ROW = {"type": "object", "properties": {
    "office_id": {"type": "string"}, "office_name": {"type": ["string", "null"]},
    "province": {"type": ["string", "null"]}, "operator_id": {"type": ["string", "null"]},
    "service_code": {"type": ["string", "null"]}, "findings": _COUNT, **{code: _COUNT for code in VIOLATION_TYPES},
    "refused_over_cap": {**_COUNT, "description": "rials asked over the cap in refused attempts"},
    "collected_over_cap": {**_COUNT, "description": "rials taken over one cap by split charging"},
    "offbook_amount": {**_COUNT, "description": "rials taken on the office's terminals outside the gateway"},
    "first_at": {"type": "string"}, "last_at": {"type": "string"}}}
_VIOLATION = {"type": "object", "properties": {
    "id": _COUNT, "object": {"const": "violation"}, "office_id": {"type": "string"},
    "type": {"enum": list(VIOLATION_TYPES)}, "obligation": {"type": "string"}, "label_fa": {"type": "string"},
    "money_collected": {"type": "boolean"}, "occurred_at": {"type": "string", "format": "date-time"},
    "period": {"type": "string"}, "amount": {"type": ["integer", "null"]}, "excess": {"type": ["integer", "null"]},
    "evidence_key": {"type": "string"}, "evidence": {"type": "object"}}}
_SCORECARD = {"type": "object", "required": ["office", "period", "indicators", "penalties"], "properties": {
    "object": {"const": "scorecard"}, "office": {"type": "object"}, "period": {"type": "object"},
    "detected_through": {"type": ["string", "null"]}, "activity": {"type": "object"},
    "negative_indicators": _COUNT, "indicators": {"type": "array", "items": {"type": "object"}},
    "penalties": {"type": "array", "items": {"type": "object", "properties": {
        "obligation": {"type": "string"}, "stage": _COUNT, "suggested": _COUNT, "year_cap": _COUNT,
        "limited_by_cap": {"type": "boolean"}, "arithmetic": {"type": "array", "items": {"type": "string"}},
        "earlier_stages": {"type": "array"}}}},
    "penalty_rules": {"type": "object"}}}


def regulator_paths() -> dict:
    return {
        "/v1/regulator/excess-fees": {"get": _read(
            "Findings counted per office, operator and service, with the rials over the cap", _list_of(_SUMMARY_ROW),
            _FILTERS)},
        "/v1/regulator/violations": {"get": _read(
            "Findings against offices, each with its evidence", _list_of(_VIOLATION), _FILTERS)},
        "/v1/regulator/offices/{office_id}/scorecard": {"get": _read(
            "An office's negative indicators for a six-month Jalali period, and penalty suggestions", _SCORECARD,
            [{"name": "office_id", "in": "path", "required": True, "schema": {"type": "string"}},
             _query("period", {"type": "string", "pattern": "^[0-9]{4}-H[12]$"},
                    "e.g. 1403-H1 (1 Farvardin to 31 Shahrivar); the current period unless given"),
             _query("format", {"enum": ["json", "csv"]}, "or send Accept: text/csv")])},
    }
