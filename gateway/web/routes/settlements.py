"""Agency settlement statements, PSP daily file imports and the reconciliation report.

    GET  /v1/agencies/{agency_id}/settlements?date=   agency (its own), regulator
    POST /v1/psps/{psp_id}/settlement-files?kind=     admin
    GET  /v1/reconciliation?date=                     admin, regulator

`date` is a calendar day in Asia/Tehran (YYYY-MM-DD). Statements and reports come as JSON, or as CSV with
`Accept: text/csv` or `?format=csv`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web
from aiohttp.multipart import parse_content_disposition

from gateway.core.errors import SettlementFileRejected
from gateway.core.jalali import TehranDay, format_utc, parse_day
from gateway.reconciliation import statement, store
from gateway.reconciliation.importer import import_psp_file
from gateway.reconciliation.reconcile import day_report, day_rows
from gateway.reconciliation.report import ROW_COLUMNS
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import invalid_request, json_response, not_found
from gateway.web.listing import page_limit, send_csv, wants_csv
from psp_adapters.daily_files import FileKind, FileRejected

routes = web.RouteTableDef()
STATEMENT_PAGE = 100
DISCREPANCIES_PAGE = 100
_UPLOAD_CHUNK = 256 * 1024
_CSV_BATCH = 500
_MAX_IDENTIFIER = 100


def _day(request: web.Request) -> TehranDay:
    raw = request.query.get("date")
    if raw is None:
        raise invalid_request("`date` is required: a day in Asia/Tehran written YYYY-MM-DD.", param="date")
    try:
        return parse_day(raw)
    except ValueError:
        raise invalid_request("`date` must be a real day written YYYY-MM-DD (Asia/Tehran).", param="date") from None


async def _registered(exists, pool, identifier: str) -> bool:
    # PostgreSQL text cannot hold NUL, and no registry identifier is long: such input names nothing.
    return len(identifier) <= _MAX_IDENTIFIER and "\x00" not in identifier and await exists(pool, identifier)


async def _statement_cursor(
    request: web.Request, pool, agency_id: str, day: TehranDay
) -> tuple[datetime, uuid.UUID] | None:
    """The (completed_at, id) position `starting_after` names: a charge on this very statement."""
    raw = request.query.get("starting_after")
    if raw is None:
        return None
    not_on_statement = invalid_request(
        "`starting_after` must be the charge_id of a row of this statement.", param="starting_after"
    )
    try:
        charge_id = uuid.UUID(raw)
    except ValueError:
        raise not_on_statement from None
    completed_at = await store.statement_position(pool, agency_id, day.start, day.end, charge_id)
    if completed_at is None:
        raise not_on_statement
    return completed_at, charge_id


STATEMENT_TOTAL_HEADERS = {
    "charges": "Pishkhan-Total-Charges",
    "amount": "Pishkhan-Total-Amount",
    "agency_share": "Pishkhan-Total-Agency-Share",
    "agency_share_returned": "Pishkhan-Total-Agency-Share-Returned",
    "agency_share_refund_pending": "Pishkhan-Total-Agency-Share-Refund-Pending",
}


async def statement_page(
    pool, agency_id: str, day: TehranDay, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> tuple[dict, list[dict], bool]:
    """The day's totals and up to `limit` rows after `after`, and whether more follow. One snapshot for the totals
    and the rows, so that they agree even while the day is still running."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        totals = statement.statement_totals(await store.statement_totals(conn, agency_id, day.start, day.end))
        page = await store.statement_page(conn, agency_id, day.start, day.end, after, limit + 1)
    return totals, [statement.statement_row(row) for row in page[:limit]], len(page) > limit


async def statement_csv(
    request: web.Request,
    pool,
    agency_id: str,
    day: TehranDay,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> web.StreamResponse:
    """The statement as CSV (the totals in headers), streamed from one snapshot: the API's answer and the agency
    page's download alike."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        totals = statement.statement_totals(await store.statement_totals(conn, agency_id, day.start, day.end))
        rows = store.statement_rows(conn, agency_id, day.start, day.end, after, limit)
        return await send_csv(
            request,
            f"settlements-{agency_id}-{day.day.isoformat()}.csv",
            statement.COLUMNS,
            (statement.statement_row(row) async for row in rows),
            {header: str(totals[name]) for name, header in STATEMENT_TOTAL_HEADERS.items()},
        )


@routes.get("/v1/agencies/{agency_id}/settlements")
async def agency_statement(request: web.Request) -> web.StreamResponse:
    caller = await principal(request)
    require_role(caller, "agency", "regulator")
    agency_id = request.match_info["agency_id"]
    pool = services(request).lagging_reads
    if (caller.role == "agency" and caller.agency_id != agency_id) or not await _registered(
        store.agency_exists, pool, agency_id
    ):
        raise not_found("agency")
    day = _day(request)
    after = await _statement_cursor(request, pool, agency_id, day)
    if wants_csv(request):
        return await statement_csv(request, pool, agency_id, day, after, page_limit(request, None))
    totals, data, has_more = await statement_page(pool, agency_id, day, after, page_limit(request, STATEMENT_PAGE))
    return json_response(
        {
            "object": "agency_statement",
            "agency_id": agency_id,
            "date": day.day.isoformat(),
            "date_jalali": day.jalali,
            "timezone": "Asia/Tehran",
            "from": format_utc(day.start),
            "to": format_utc(day.end),
            "totals": totals,
            "data": data,
            "has_more": has_more,
            "next_starting_after": data[-1]["charge_id"] if has_more else None,
        }
    )


def _source_name(request: web.Request) -> str:
    disposition = request.headers.get("Content-Disposition")
    if disposition:
        filename = parse_content_disposition(disposition)[1].get("filename")
        if filename:
            return filename[:255]
    return "upload"


async def _upload(request: web.Request, caller) -> AsyncIterator[bytes]:
    """The body as it arrives; a signed request's body was already read whole to check its signature."""
    if caller.require_signature:
        body = await request.read()

        async def whole() -> AsyncIterator[bytes]:
            yield body

        return whole()
    return request.content.iter_chunked(_UPLOAD_CHUNK)


@routes.post("/v1/psps/{psp_id}/settlement-files")
async def import_settlement_file(request: web.Request) -> web.Response:
    caller = await principal(request)
    require_role(caller, "admin")
    psp_id = request.match_info["psp_id"]
    try:
        kind = FileKind(request.query.get("kind", ""))
    except ValueError:
        raise invalid_request("`kind` must be settlement or terminal_feed.", param="kind") from None
    pool = services(request).pool
    if not await _registered(store.psp_exists, pool, psp_id):
        raise not_found("PSP")
    async with pool.acquire() as conn:
        try:
            imported = await import_psp_file(
                conn,
                await _upload(request, caller),
                psp_id=psp_id,
                expected_kind=kind,
                source=_source_name(request),
                imported_by=f"key:{caller.key_id}",
            )
        except FileRejected as rejected:
            raise SettlementFileRejected(
                f"Nothing was imported: {rejected}.", details={"line": rejected.line, "problem": rejected.message}
            ) from None
    return json_response(imported.view(), status=201 if imported.created else 200)


@routes.get("/v1/reconciliation")
async def reconciliation_report(request: web.Request) -> web.StreamResponse:
    caller = await principal(request)
    require_role(caller, "admin", "regulator")
    day = _day(request)
    psp_id = request.query.get("psp_id")
    pool = services(request).lagging_reads
    if psp_id is not None and not await _registered(store.psp_exists, pool, psp_id):
        raise not_found("PSP")
    if wants_csv(request):
        suffix = f"-{psp_id}" if psp_id else ""
        async with pool.acquire() as conn, conn.transaction():
            return await send_csv(
                request, f"reconciliation-{day.day.isoformat()}{suffix}.csv", ROW_COLUMNS, day_rows(conn, day, psp_id)
            )
    limit = page_limit(request, DISCREPANCIES_PAGE)
    async with pool.acquire() as conn:
        return json_response(await day_report(conn, day, psp_id, limit))
