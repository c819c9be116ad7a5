"""The regulator's oversight queries (regulator keys only; each one is written to the access log).

    GET /v1/regulator/excess-fees?from=&to=&office_id=&province=&type=     findings per office, operator, service
    GET /v1/regulator/violations?from=&to=&office_id=&province=&type=      findings with their evidence
    GET /v1/regulator/offices/{office_id}/scorecard?period=1403-H1         indicators and penalty suggestions
    GET /v1/regulator/offices?province=&kind=&status=&from=&to=            offices, licence and findings
    GET /v1/regulator/offices/{office_id}/charges?from=&to=                the office's charges (default: today)
    GET /v1/regulator/offices/{office_id}/refusals?from=&to=               its refused attempts (default: today)
    GET /v1/regulator/offices/{office_id}/receipts?from_seq=&limit=        its signed receipts, JSON lines
    GET /v1/regulator/access-log/heads                                       the access log's signed chain heads
    POST /v1/regulator/access-log/heads                                      sign the current head now
    GET /v1/regulator/refusals?from=&to=&office_id=&province=&reason=      every refused charge request
    GET /v1/regulator/voids?from=&to=&office_id=&province=                 every void, whatever became of it
    GET /v1/regulator/refunds?from=&to=&office_id=&province=               every refund, whatever became of it

Every read goes to the streaming replica when there is one (`lagging_reads`, docs/scaling.md), except the access
log's signed heads, which the regulator may have just asked to be signed; the access log itself is written on the
primary.

A regulator key of one province (`pishkhan keys create --role regulator --province ...`) sees only that province's
offices: another province's office is answered 404, and lists leave them out.

Lists come in pages (`limit`, then `cursor` = the `next_cursor` of the page before), in (office, ...) order.
Every answer is JSON, or CSV with `?format=csv` or `Accept: text/csv`; a list's CSV is the whole list from
`cursor` on, streamed. `from` is inclusive and `to` exclusive; each is an RFC 3339 instant or a day (YYYY-MM-DD
Gregorian or YYYY/MM/DD Jalali) in Tehran, where a day in `to` is included whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from gateway.access.api_keys import Principal
from gateway.core.jalali import (
    FIRST_YEAR,
    LAST_YEAR,
    TEHRAN,
    day_start_utc,
    format_jalali_datetime,
    format_utc,
    parse_jalali_date,
    tehran_date,
    tehran_day,
)
from gateway.core.periods import HalfYear
from gateway.core.registry import Office
from gateway.core.text import normalize_persian
from gateway.oversight import access_log, office_records, store
from gateway.oversight.catalog import VIOLATION_TYPES
from gateway.oversight.scorecard import SCORECARD_CSV_COLUMNS, office_scorecard, scorecard_csv_rows
from gateway.platform.csv_text import csv_text
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import invalid_request, json_response, not_found
from gateway.web.listing import encode_cursor, page_cursor, page_limit, send_csv, wants_csv
from gateway.web.query import parse_instant
from receipts.audit import export_lines

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
            return parse_instant(text, name)
        if not FIRST_YEAR <= day_start.year <= LAST_YEAR:
            raise problem
        return day_start + timedelta(days=1) if name == "to" else day_start
    except (ValueError, OverflowError):  # OverflowError: a day at the very edge of the calendar
        raise problem from None


def _office_ids(request: web.Request, caller: Principal) -> list[str] | None:
    """The offices the `office_id` and `province` filters and the caller's scope leave (None: every office)."""
    offices = services(request).state.registry.offices
    chosen: set[str] | None = None
    if caller.province is not None:
        chosen = {office.id for office in offices.values() if office.province == caller.province}
    if "office_id" in request.query:
        office_id = normalize_persian(request.query["office_id"]).strip()
        if not _OFFICE_ID.fullmatch(office_id):
            raise invalid_request("`office_id` must be an 8-digit office code.", param="office_id")
        chosen = {office_id} if chosen is None else chosen & {office_id}
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


Codes = Callable[[web.Request], list[str] | None]  # the `type` filter, or the refusals' `reason`


def _filter(request: web.Request, caller: Principal, codes: Codes = _types) -> store.FindingFilter:
    since, until = _instant(request, "from"), _instant(request, "to")
    if since is not None and until is not None and since >= until:
        raise invalid_request("`from` must be before `to`.", param="from")
    return store.FindingFilter(since=since, until=until, office_ids=_office_ids(request, caller), types=codes(request))


async def _regulator(request: web.Request) -> Principal:
    caller = await principal(request)
    require_role(caller, "regulator")
    return caller


def _office_in_scope(request: web.Request, caller: Principal) -> Office:
    """The office of the path, if the caller may see it; another province's office is as missing as none."""
    office = services(request).state.registry.offices.get(request.match_info["office_id"])
    if office is None or (caller.province is not None and office.province != caller.province):
        raise not_found("office")
    return office


# ------------------------------------------------------------------ lists: a page of JSON, or all of it as CSV

QueryOf = Callable[[tuple | None, int | None], store.Query]  # (after, limit or None for all) → the query


async def _csv_rows(request: web.Request, query: store.Query, view: Callable) -> AsyncIterator[dict]:
    async with services(request).lagging_reads.acquire() as conn:
        async for row in store.stream(conn, query):
            yield flat_row(view(row))


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


def flat_row(view: dict) -> dict:
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


Order = tuple[tuple[str, type], ...]  # the columns a list is ordered and paged by, each with its cursor's type
_BY_OFFICE_AND_TIME = (("office_id", str), ("occurred_at", datetime), ("id", int))
_BY_OFFICE_AND_TIME_UUID = (("office_id", str), ("occurred_at", datetime), ("id", str))


@dataclass(frozen=True)
class _FindingList:
    """A list under the finding filters (`from`, `to`, `office_id`, `province`, and `type` or, for refusals,
    `reason`): `kind` names its cursors and CSV file, `query` reads it, `view(request)` answers each row."""

    kind: str
    query: Callable[[store.FindingFilter, tuple | None, int | None], store.Query]
    order: Order
    view: Callable[[web.Request], Callable[[Any], dict]]
    csv_columns: Sequence[str]
    codes: Codes = _types

    async def answer(self, request: web.Request) -> web.StreamResponse:
        where = _filter(request, await _regulator(request), self.codes)
        return await _list(
            request,
            kind=self.kind,
            cursor_types=tuple(cursor_type for _, cursor_type in self.order),
            query=lambda after, limit: self.query(where, after, limit),
            key=lambda row: tuple(row[column] for column, _ in self.order),
            view=self.view(request),
            csv_columns=self.csv_columns,
            about=_about(where),
        )


# ------------------------------------------------------------------ excess fees: findings per office, operator, service

SUMMARY_COLUMNS = (
    "office_id",
    "office_name",
    "province",
    "operator_id",
    "service_code",
    "findings",
    *VIOLATION_TYPES,
    "set_aside",
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
            "set_aside": row["set_aside"],
            "refused_over_cap": row["refused_over_cap"],
            "collected_over_cap": row["collected_over_cap"],
            "offbook_amount": row["offbook_amount"],
            "first_at": format_utc(row["first_at"]),
            "last_at": format_utc(row["last_at"]),
        }

    return view


_BY_OFFICE_OPERATOR_SERVICE = (("office_id", str), ("operator_id", str), ("service_code", str))
EXCESS_FEES_LIST = _FindingList(
    "excess-fees", store.excess_fee_summary_query, _BY_OFFICE_OPERATOR_SERVICE, _summary_view, SUMMARY_COLUMNS
)


@routes.get("/v1/regulator/excess-fees")
async def excess_fees(request: web.Request) -> web.StreamResponse:
    return await EXCESS_FEES_LIST.answer(request)


# ------------------------------------------------------------------ refusals: every refused charge request

REFUSAL_COLUMNS = (
    "id",
    "office_id",
    "terminal_id",
    "operator_id",
    "service_code",
    "reason",
    "requested",
    "cap",
    "excess",
    "payment_method",
    "tariff_reference",
    "details",
    "created_at",
)
_REASON = re.compile(r"[a-z_]{1,64}")


def _reasons(request: web.Request) -> list[str] | None:
    if "reason" not in request.query:
        return None
    reasons = [r.strip() for r in request.query["reason"].split(",") if r.strip()]
    if not reasons or not all(_REASON.fullmatch(r) for r in reasons):
        raise invalid_request("`reason` must be a comma-separated list of error codes.", param="reason")
    return reasons


def _refusal_view(row) -> dict:
    return {name: format_utc(row[name]) if name == "created_at" else row[name] for name in REFUSAL_COLUMNS}


_BY_OFFICE_AND_CREATION = (("office_id", str), ("created_at", datetime), ("id", int))
REFUSALS_LIST = _FindingList(
    "refusals", store.refusals_query, _BY_OFFICE_AND_CREATION, lambda _: _refusal_view, REFUSAL_COLUMNS, _reasons
)


@routes.get("/v1/regulator/refusals")
async def refusals(request: web.Request) -> web.StreamResponse:
    return await REFUSALS_LIST.answer(request)


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
    "set_aside",
    "set_aside_at",
    "set_aside_objection_id",
)


def violation_view(request: web.Request):
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
            "set_aside": row["set_aside_at"] is not None,
            "set_aside_at": _utc(row["set_aside_at"]),
            "set_aside_objection_id": row["set_aside_objection_id"],
        }

    return view


VIOLATIONS_LIST = _FindingList(
    "violations", store.violations_query, _BY_OFFICE_AND_TIME, violation_view, VIOLATION_COLUMNS
)


@routes.get("/v1/regulator/violations")
async def violations(request: web.Request) -> web.StreamResponse:
    return await VIOLATIONS_LIST.answer(request)


# ------------------------------------------------------------------ voids

VOID_COLUMNS = (
    "id",
    "office_id",
    "province",
    "charge_id",
    "tracking_code",
    "terminal_id",
    "operator_id",
    "service_code",
    "psp_id",
    "amount",
    "reason",
    "reason_text",
    "requested_by",
    "status",
    "response_code",
    "cancellation_tracking_code",
    "charge_completed_at",
    "requested_at",
    "requested_at_jalali",
    "finalized_at",
)


def _void_view(request: web.Request):
    offices = services(request).state.registry.offices

    def view(row) -> dict:
        office = offices.get(row["office_id"])
        return {
            "id": row["id"],
            "object": "void",
            "office_id": row["office_id"],
            "province": office.province if office else None,
            "charge_id": str(row["charge_id"]),
            "tracking_code": row["tracking_code"],
            "terminal_id": row["terminal_id"],
            "operator_id": row["operator_id"],
            "service_code": row["service_code"],
            "psp_id": row["psp_id"],
            "amount": row["amount"],
            "reason": row["reason"],
            "reason_text": row["reason_text"],
            "requested_by": row["requested_by"],
            "status": row["status"],
            "response_code": row["response_code"],
            "cancellation_tracking_code": row["cancellation_tracking_code"],
            "charge_completed_at": _utc(row["completed_at"]),
            "requested_at": format_utc(row["occurred_at"]),
            "requested_at_jalali": format_jalali_datetime(row["occurred_at"]),
            "finalized_at": _utc(row["finalized_at"]),
        }

    return view


VOIDS_LIST = _FindingList("voids", store.voids_query, _BY_OFFICE_AND_TIME_UUID, _void_view, VOID_COLUMNS)


@routes.get("/v1/regulator/voids")
async def voids(request: web.Request) -> web.StreamResponse:
    return await VOIDS_LIST.answer(request)


# ------------------------------------------------------------------ refunds

REFUND_COLUMNS = (*VOID_COLUMNS[:-1], "rrn", "instructed_at", "settled_at")


def _refund_view(request: web.Request):
    as_void = _void_view(request)

    def view(row) -> dict:
        answer = as_void(row)
        del answer["finalized_at"]
        return answer | {
            "object": "refund",
            "rrn": row["rrn"],
            "instructed_at": _utc(row["instructed_at"]),
            "settled_at": _utc(row["settled_at"]),
        }

    return view


REFUNDS_LIST = _FindingList("refunds", store.refunds_query, _BY_OFFICE_AND_TIME_UUID, _refund_view, REFUND_COLUMNS)


@routes.get("/v1/regulator/refunds")
async def refunds(request: web.Request) -> web.StreamResponse:
    return await REFUNDS_LIST.answer(request)


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
    office = _office_in_scope(request, await _regulator(request))
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


# ------------------------------------------------------------------ offices; an office's charges, refusals, receipts

OFFICE_COLUMNS = (
    "id",
    "name",
    "kind",
    "province",
    "city",
    "status",
    "licence_holder",
    "licence_number",
    "licence_valid_from",
    "licence_valid_to",
    "licence_active",
    "terminals",
    "psps",
    "findings",
)
_OFFICE_FILTERS = {"province": "province", "kind": "kind", "status": "status"}


def office_view(office: Office, registry, findings: int, today) -> dict:
    terminals = [t for t in registry.terminals.values() if t.office_id == office.id]
    return {
        "id": office.id,
        "object": "office",
        "name": office.name,
        "kind": office.kind,
        "province": office.province,
        "city": office.city,
        "status": office.status,
        "licence_holder": office.licence_holder,
        "licence_number": office.licence_number,
        "licence_valid_from": office.licence_valid_from.isoformat(),
        "licence_valid_to": office.licence_valid_to.isoformat(),
        "licence_active": office.licence_active_on(today),
        "terminals": len(terminals),
        "psps": sorted({t.psp_id for t in terminals}),
        "findings": findings,
    }


@routes.get("/v1/regulator/offices")
async def offices(request: web.Request) -> web.StreamResponse:
    caller = await _regulator(request)
    svc = services(request)
    registry = svc.state.registry
    since, until = _instant(request, "from"), _instant(request, "to")
    chosen = _office_ids(request, caller)
    listed = [o for o in sorted(registry.offices.values(), key=lambda o: o.id) if chosen is None or o.id in chosen]
    for param, attribute in _OFFICE_FILTERS.items():
        if param in request.query:
            wanted = normalize_persian(request.query[param]).strip()
            listed = [o for o in listed if getattr(o, attribute) == wanted]
    after = page_cursor(request, "offices", (str,))
    if after is not None:
        listed = [o for o in listed if o.id > after[0]]
    csv = wants_csv(request)
    limit = None if csv else page_limit(request, DEFAULT_PAGE)
    page = listed if limit is None else listed[:limit]
    findings = await office_records.findings_per_office(svc.lagging_reads, [o.id for o in page], since, until)
    today = tehran_date(svc.clock())
    views = [office_view(o, registry, findings.get(o.id, 0), today) for o in page]
    if csv:
        return await send_csv(request, "offices.csv", OFFICE_COLUMNS, _rows_of([flat_row(v) for v in views]))
    more = limit is not None and len(listed) > limit
    return json_response(
        {
            "object": "list",
            "filters": {"from": _utc(since), "to": _utc(until), "office_ids": chosen},
            "data": views,
            "has_more": more,
            "next_cursor": encode_cursor("offices", (page[-1].id,)) if more else None,
            "detected_through": _utc(await store.detection_reach(svc.lagging_reads)),
        }
    )


async def _rows_of(rows: list[dict]) -> AsyncIterator[dict]:
    for row in rows:
        yield row


def _day_range(request: web.Request) -> tuple[datetime, datetime]:
    """`from` and `to`, by default today in Tehran."""
    since, until = _instant(request, "from"), _instant(request, "to")
    if since is None and until is None:
        today = tehran_day(tehran_date(services(request).clock()))
        since, until = today.start, today.end
    if since is None or until is None:
        raise invalid_request("Give both `from` and `to`, or neither (today).", param="from" if since is None else "to")
    if since >= until:
        raise invalid_request("`from` must be before `to`.", param="from")
    return since, until


CHARGE_COLUMNS = (
    "id",
    "created_at",
    "completed_at",
    "terminal_id",
    "psp_id",
    "operator_id",
    "service_code",
    "quantity",
    "amount",
    "breakdown",
    "tariff_reference",
    "status",
    "decline_code",
    "tracking_code",
    "masked_pan",
    "rrn",
)


def charge_row_view(row) -> dict:
    return {
        **{name: row[name] for name in CHARGE_COLUMNS},
        "object": "charge",
        "id": str(row["id"]),
        "created_at": format_utc(row["created_at"]),
        "completed_at": _utc(row["completed_at"]),
    }


@routes.get("/v1/regulator/offices/{office_id}/charges")
async def office_charges(request: web.Request) -> web.StreamResponse:
    office = _office_in_scope(request, await _regulator(request))
    since, until = _day_range(request)
    return await _list(
        request,
        kind="office-charges",
        cursor_types=(datetime, str),
        query=lambda after, limit: office_records.charges_query(office.id, since, until, after, limit),
        key=lambda row: (row["created_at"], str(row["id"])),
        view=charge_row_view,
        csv_columns=CHARGE_COLUMNS,
        about={"office_id": office.id, "filters": {"from": _utc(since), "to": _utc(until)}},
    )


OFFICE_REFUSAL_COLUMNS = (
    "id",
    "created_at",
    "terminal_id",
    "operator_id",
    "service_code",
    "reason",
    "requested",
    "cap",
    "excess",
    "payment_method",
    "tariff_reference",
    "details",
)


def refusal_row_view(row) -> dict:
    return {
        **{name: row[name] for name in OFFICE_REFUSAL_COLUMNS},
        "object": "refusal",
        "created_at": format_utc(row["created_at"]),
    }


@routes.get("/v1/regulator/offices/{office_id}/refusals")
async def office_refusals(request: web.Request) -> web.StreamResponse:
    office = _office_in_scope(request, await _regulator(request))
    since, until = _day_range(request)
    return await _list(
        request,
        kind="office-refusals",
        cursor_types=(datetime, int),
        query=lambda after, limit: office_records.refusals_query(office.id, since, until, after, limit),
        key=lambda row: (row["created_at"], row["id"]),
        view=refusal_row_view,
        csv_columns=OFFICE_REFUSAL_COLUMNS,
        about={"office_id": office.id, "filters": {"from": _utc(since), "to": _utc(until)}},
    )


RECEIPT_PAGE = 1000
MAX_RECEIPT_PAGE = 10_000


def _from_seq(request: web.Request) -> int:
    raw = normalize_persian(request.query.get("from_seq", "1")).strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12 and int(raw) >= 1):
        raise invalid_request("`from_seq` must be a receipt sequence number, 1 or more.", param="from_seq")
    return int(raw)


@routes.get("/v1/regulator/offices/{office_id}/receipts")
async def office_receipts(request: web.Request) -> web.Response:
    """JSON lines, one signed receipt a line in chain order, as `pishkhan receipts export` writes them; a full page
    names the next one in `Link: <...>; rel="next"` and `Pishkhan-Next-From-Seq`."""
    office = _office_in_scope(request, await _regulator(request))
    from_seq = _from_seq(request)
    limit = page_limit(request, RECEIPT_PAGE, MAX_RECEIPT_PAGE)
    rows = await office_records.receipts_from(services(request).lagging_reads, office.id, from_seq, limit + 1)
    page = rows[:limit]
    headers = {"Content-Disposition": f'attachment; filename="receipts-{office.id}-from-{from_seq}.jsonl"'}
    if len(rows) > limit:
        following = rows[limit]["seq"]
        headers["Pishkhan-Next-From-Seq"] = str(following)
        headers["Link"] = f'<{request.path}?from_seq={following}&limit={limit}>; rel="next"'
    return web.Response(
        text="".join(export_lines(row["signed"] for row in page)),
        content_type="application/jsonl",
        charset="utf-8",
        headers=headers,
    )


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
