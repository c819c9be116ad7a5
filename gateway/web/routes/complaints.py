"""Complaints: the citizen's code and complaint, its status, the regulator's list and decision, and an office's own
complaints (read-only, with one of its terminal keys)."""

from __future__ import annotations

from datetime import datetime

import orjson
from aiohttp import web

from gateway.complaints import inputs, rules
from gateway.complaints.store import ComplaintFilter, get_complaint, list_complaints
from gateway.core.errors import InvalidJson
from gateway.core.jalali import format_utc
from gateway.web.auth import require_office, require_role
from gateway.web.context import principal, services
from gateway.web.errors import invalid_request, json_response, not_found
from gateway.web.listing import encode_cursor, page_cursor, page_limit, send_csv, wants_csv
from gateway.web.routes.regulator import _instant, _office_ids

routes = web.RouteTableDef()
_KIND = "complaints"
CSV_COLUMNS = ("number", "office_id", "tracking_code", "category", "status", "text", "note", "created_at", "updated_at")


async def _json(request: web.Request) -> dict:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise InvalidJson() from None
    if not isinstance(body, dict):
        raise invalid_request("Post a JSON object.")
    return body


def public_view(row) -> dict:
    """What the citizen's number shows: no text, no mobile."""
    return {
        "object": "complaint",
        "number": row["number"],
        "office_id": row["office_id"],
        "category": row["category"],
        "status": row["status"],
        "created_at": format_utc(row["created_at"]),
        "updated_at": format_utc(row["updated_at"]),
    }


def full_view(row) -> dict:
    return {
        **public_view(row),
        "tracking_code": row["tracking_code"],
        "text": row["body"],
        "note": row["note"],
    }


@routes.post("/v1/complaints/otp")
async def send_code(request: web.Request) -> web.Response:
    fields = await _json(request)
    code, mobile = inputs.tracking_code(fields), inputs.mobile(fields)
    svc = services(request)
    await svc.complaints.send_code(svc.state.registry, code, mobile, request.remote or "unknown", svc.clock())
    # The same answer whether or not the receipt was sent to this mobile.
    return json_response({"object": "complaint_code", "sent_if_the_receipt_was_sent_to_this_mobile": True}, status=202)


@routes.post("/v1/complaints")
async def file_complaint(request: web.Request) -> web.Response:
    fields = await _json(request)
    tracking, mobile, code = inputs.tracking_code(fields), inputs.mobile(fields), inputs.code(fields)
    category, text = inputs.category(fields), inputs.body(fields)
    svc = services(request)
    number = await svc.complaints.file(svc.state.registry, tracking, mobile, code, category, text, svc.clock())
    return json_response(public_view(await get_complaint(svc.pool, number)), status=201)


@routes.get("/v1/complaints/{number:[Cc]-[^/]+}")
async def read_complaint(request: web.Request) -> web.Response:
    row = await get_complaint(services(request).pool, request.match_info["number"].upper())
    if row is None:
        raise not_found("complaint")
    return json_response(public_view(row))


def _filter(request: web.Request, office_ids: list[str] | None) -> ComplaintFilter:
    category = request.query.get("category")
    if category is not None and category not in rules.CATEGORIES:
        raise invalid_request(f"`category` must be one of {', '.join(rules.CATEGORIES)}.", param="category")
    status = request.query.get("status")
    if status is not None and status not in rules.STATUSES:
        raise invalid_request(f"`status` must be one of {', '.join(rules.STATUSES)}.", param="status")
    return ComplaintFilter(office_ids, category, status, _instant(request, "from"), _instant(request, "to"))


async def _listed(request: web.Request, where: ComplaintFilter) -> web.StreamResponse:
    pool = services(request).lagging_reads  # lists that may lag: nothing the caller just wrote
    after = page_cursor(request, _KIND, (datetime, str))
    if wants_csv(request):
        rows = await list_complaints(pool, where, after, None)

        async def flat():
            for row in rows:
                yield {**full_view(row), "office_id": row["office_id"]}

        return await send_csv(request, "complaints.csv", CSV_COLUMNS, flat())
    limit = page_limit(request, 50)
    rows = await list_complaints(pool, where, after, limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return json_response(
        {
            "object": "list",
            "data": [full_view(row) for row in page],
            "has_more": more,
            "next_cursor": encode_cursor(_KIND, (page[-1]["created_at"], page[-1]["number"])) if more else None,
        }
    )


@routes.get("/v1/regulator/complaints")
async def regulator_complaints(request: web.Request) -> web.StreamResponse:
    caller = await principal(request)
    require_role(caller, "regulator")
    return await _listed(request, _filter(request, _office_ids(request, caller)))


@routes.patch("/v1/regulator/complaints/{number:[Cc]-[^/]+}")
async def decide_complaint(request: web.Request) -> web.Response:
    require_role(await principal(request), "regulator", "admin")
    fields = await _json(request)
    status = fields.get("status")
    if not isinstance(status, str):
        raise invalid_request(f"`status` must be one of {', '.join(rules.STATUSES)}.", param="status")
    note = fields.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise invalid_request("`note` must be text.", param="note")
        note = rules.checked_text(note, "note", rules.MAX_NOTE, required=False)
    svc = services(request)
    number = request.match_info["number"].upper()
    await svc.complaints.decide(svc.state.registry, number, status, note, svc.clock())
    return json_response(full_view(await get_complaint(svc.pool, number)))


@routes.get("/v1/offices/{office_id}/complaints")
async def office_complaints(request: web.Request) -> web.StreamResponse:
    caller = await principal(request)
    require_role(caller, "terminal", "regulator", "admin")
    office_id = request.match_info["office_id"]
    require_office(caller, office_id)
    return await _listed(request, _filter(request, [office_id]))
