"""Receipts: the signed electronic receipt, its printed forms, and public verification."""

from __future__ import annotations

import asyncio
from functools import lru_cache

import orjson
from aiohttp import web

from gateway.core.errors import InvalidJson
from gateway.core.identifiers import is_valid_tracking_code
from gateway.core.text import normalize_persian
from gateway.receipt_book.prints import ReceiptPrint, get_print, prints_of, record_print
from gateway.receipt_book.store import chain_neighbours, counterpart, get_receipt
from gateway.web.auth import require_office, require_role
from gateway.web.context import principal, services
from gateway.web.errors import invalid_request, json_response, not_found
from gateway.web.schemas import PrintRequest, parse_body
from receipts.chain import receipt_hash
from receipts.printed import Reprint
from receipts.render_pdf import PaperSize, render_pdf
from receipts.render_text import CHARSETS, render_thermal
from receipts.verification import NotACopy, StoredReceipt, cancellation_verdict, check_presented, verdict

routes = web.RouteTableDef()
_TRACKING = "{tracking_code:[^/.]+}"
PAPER_SIZES: dict[str, PaperSize] = {"a5": "a5", "80mm": "80mm"}
# A receipt never changes once issued and its printed forms are the same bytes every time, so clients may keep them
# for good. `private`: they carry the recipient's name and masked card, which no shared cache (proxy, CDN) may
# store; `Vary: Authorization`: a kept copy answers only the key that fetched it, any other is checked here.
_CACHE_CONTROL = "private, max-age=31536000, immutable"
# Part of every ETag: raise it when a change to the printed forms changes their bytes for the same receipt.
_FORMS_VERSION = 2
MAX_PRINT_NUMBER = 10**6


def _tracking_code(request: web.Request) -> str:
    code = normalize_persian(request.match_info["tracking_code"])
    if not is_valid_tracking_code(code):
        raise not_found("receipt")
    return code


async def _own_receipt(request: web.Request):
    caller = await principal(request)
    require_role(caller, "terminal", "regulator", "admin")
    row = await get_receipt(services(request).pool, _tracking_code(request))
    if row is None:
        raise not_found("receipt")
    require_office(caller, row["office_id"])
    return row


@routes.get(f"/v1/receipts/{_TRACKING}")
async def read_receipt(request: web.Request) -> web.Response:
    """The signed receipt, and beside it (not signed) the URL its QR code carries."""
    signed = (await _own_receipt(request))["signed"]
    svc = services(request)
    return json_response({**signed, "qr_url": svc.links.qr_url(signed, svc.keyring)})


def _caching(request: web.Request, signed: dict, variant: str) -> tuple[dict[str, str], bool]:
    """The caching headers of a printed form, and whether the client already holds it (If-None-Match, compared
    weakly as RFC 9110 says)."""
    etag = f"{receipt_hash(signed)[:32]}-{variant}-{_FORMS_VERSION}"
    held = any(tag.value in ("*", etag) for tag in request.if_none_match or ())
    return {"ETag": f'"{etag}"', "Cache-Control": _CACHE_CONTROL, "Vary": "Authorization"}, held


@lru_cache(maxsize=512)
def _rendered_pdf(
    receipt_json: bytes, size: PaperSize, qr_payload: str, font_path: str, reprint: Reprint | None
) -> bytes:
    return render_pdf(orjson.loads(receipt_json), size, qr_payload, font_path, reprint)


async def _recorded_print(request: web.Request, row, form: str) -> ReceiptPrint | None:
    """The print named by `?print=N` (None without it): a print of this receipt recorded for this form."""
    raw = request.query.get("print")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 7 and 1 <= int(raw) <= MAX_PRINT_NUMBER):
        raise invalid_request("`print` is the number of a recorded print of this receipt.", param="print")
    recorded = await get_print(services(request).pool, row["office_id"], row["tracking_code"], int(raw))
    if recorded is None:
        raise not_found("print of this receipt")
    if recorded.form != form:
        raise invalid_request(f"Print {recorded.number} was recorded for the {recorded.form} form.", param="print")
    return recorded


async def printed_form(
    request: web.Request, row, form: str, recorded: ReceiptPrint | None, charset: str = "utf-8"
) -> web.Response:
    """A printed form of a receipt (A5 or 80 mm PDF, or thermal text); a recorded print after the first is marked
    as a copy. Each variant is the same bytes every time, so it is cached by the client for good."""
    reprint = recorded.reprint if recorded is not None else None
    variant = form if charset == "utf-8" else f"{form}-{charset}"
    variant = variant if recorded is None else f"{variant}-p{recorded.number}"
    caching, held = _caching(request, row["signed"], variant)
    if held:
        return web.Response(status=304, headers=caching)
    svc = services(request)
    qr = svc.links.qr_url(row["signed"], svc.keyring)
    if form == "txt":
        text = render_thermal(row["signed"], qr, reprint, charset=charset, font_path=str(svc.settings.receipt_font))
        return web.Response(body=text.encode(charset), content_type="text/plain", charset=charset, headers=caching)
    body = await asyncio.get_running_loop().run_in_executor(
        None,
        _rendered_pdf,
        orjson.dumps(row["signed"], option=orjson.OPT_SORT_KEYS),
        PAPER_SIZES[form],
        qr,
        str(svc.settings.receipt_font),
        reprint,
    )
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="receipt-{row["tracking_code"]}-{variant}.pdf"', **caching},
    )


@routes.get(f"/v1/receipts/{_TRACKING}.pdf")
async def receipt_pdf(request: web.Request) -> web.Response:
    size = PAPER_SIZES.get(request.query.get("size", "a5").lower())
    if size is None:
        raise invalid_request("`size` must be a5 or 80mm.", param="size")
    row = await _own_receipt(request)
    return await printed_form(request, row, size, await _recorded_print(request, row, size))


@routes.get(f"/v1/receipts/{_TRACKING}.txt")
async def receipt_thermal(request: web.Request) -> web.Response:
    charset = request.query.get("charset", "utf-8").lower()
    if charset not in CHARSETS:
        raise invalid_request(f"`charset` must be one of {', '.join(CHARSETS)}.", param="charset")
    row = await _own_receipt(request)
    return await printed_form(request, row, "txt", await _recorded_print(request, row, "txt"), charset)


def print_path(recorded: ReceiptPrint) -> str:
    """Where the paper of a recorded print is fetched."""
    code = recorded.tracking_code
    if recorded.form == "txt":
        return f"/v1/receipts/{code}.txt?print={recorded.number}"
    return f"/v1/receipts/{code}.pdf?size={recorded.form}&print={recorded.number}"


@routes.post(f"/v1/receipts/{_TRACKING}/prints")
async def print_receipt(request: web.Request) -> web.Response:
    """Records a print of the receipt: the first is the original, every later one a copy («رونوشت») on the paper."""
    caller = await principal(request)
    require_role(caller, "terminal")
    form = parse_body(PrintRequest, await request.read()).form
    row = await _own_receipt(request)
    svc = services(request)
    recorded = await record_print(
        svc.pool, row["office_id"], row["tracking_code"], form, f"key:{caller.key_id}", svc.clock()
    )
    return json_response({**recorded.as_dict(), "url": print_path(recorded)}, status=201)


@routes.get(f"/v1/receipts/{_TRACKING}/prints")
async def receipt_prints(request: web.Request) -> web.Response:
    row = await _own_receipt(request)
    prints = await prints_of(services(request).pool, row["office_id"], row["tracking_code"])
    return json_response({"data": [recorded.as_dict() for recorded in prints]})


async def _verification(request: web.Request, presented: dict | None) -> dict:
    """What anyone may learn about a receipt (receipts/verification.py); nothing personal."""
    code = _tracking_code(request)
    svc = services(request)
    # A receipt printed a moment ago may not have reached the replica yet: the primary is asked for it then.
    reads = svc.lagging_reads
    row = await get_receipt(reads, code)
    if row is None:
        reads = svc.pool
        row = await get_receipt(reads, code)
    if row is None:
        raise not_found("receipt")
    previous_hash, next_prev_hash = await chain_neighbours(reads, row["office_id"], row["seq"])
    stored = StoredReceipt(row["office_id"], row["seq"], row["hash"], row["prev_hash"], row["signed"])
    answer = verdict(stored, svc.keyring, previous_hash, next_prev_hash, code)
    other = await counterpart(svc.pool, row["office_id"], row["charge_id"], row["kind"])
    answer |= cancellation_verdict(row["signed"]["receipt"], other)
    if presented is not None:
        try:
            answer["presented"] = check_presented(presented, row["signed"], svc.keyring)
        except NotACopy as error:
            raise invalid_request(str(error)) from None
    return answer


@routes.get(f"/v1/receipts/{_TRACKING}/verify")
async def verify_receipt(request: web.Request) -> web.Response:
    return json_response(await _verification(request, None))


@routes.post(f"/v1/receipts/{_TRACKING}/verify")
async def verify_presented_receipt(request: web.Request) -> web.Response:
    try:
        presented = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise InvalidJson() from None
    if not isinstance(presented, dict):
        raise invalid_request("Post a JSON object.")
    return json_response(await _verification(request, presented))
