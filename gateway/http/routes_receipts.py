"""Receipts: the signed electronic receipt, its printed forms, and public verification."""
from __future__ import annotations

import asyncio
from functools import lru_cache

import orjson
from aiohttp import web

from gateway.domain.identifiers import is_valid_tracking_code
from gateway.domain.text import normalize_persian
from gateway.http.auth import require_office, require_role
from gateway.http.context import principal, services
from gateway.http.errors import invalid_request, json_response, not_found
from gateway.storage.receipts_store import chain_neighbours, get_receipt
from receipts.chain import genesis_hash, receipt_hash
from receipts.qr import make_qr_payload, verify_qr_payload
from receipts.render_pdf import render_pdf
from receipts.render_text import render_thermal

routes = web.RouteTableDef()
_TRACKING = "{tracking_code:[^/.]+}"
PAPER_SIZES = ("a5", "80mm")
# A receipt never changes once issued and its printed forms are the same bytes every time, so clients may keep them
# for good. `private`: they carry the recipient's name and masked card, which no shared cache (proxy, CDN) may
# store; `Vary: Authorization`: a kept copy answers only the key that fetched it, any other is checked here.
_CACHE_CONTROL = "private, max-age=31536000, immutable"
# Part of every ETag: raise it when a change to the printed forms changes their bytes for the same receipt.
_FORMS_VERSION = 1


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
    return json_response((await _own_receipt(request))["signed"])


def _caching(request: web.Request, signed: dict, variant: str) -> tuple[dict[str, str], bool]:
    """The caching headers of a printed form, and whether the client already holds it (If-None-Match, compared
    weakly as RFC 9110 says)."""
    etag = f"{receipt_hash(signed)[:32]}-{variant}-{_FORMS_VERSION}"
    held = any(tag.value in ("*", etag) for tag in request.if_none_match or ())
    return {"ETag": f'"{etag}"', "Cache-Control": _CACHE_CONTROL, "Vary": "Authorization"}, held


@lru_cache(maxsize=512)
def _rendered_pdf(receipt_json: bytes, size: str, qr_payload: str, font_path: str) -> bytes:
    return render_pdf(orjson.loads(receipt_json), size, qr_payload, font_path)


@routes.get(f"/v1/receipts/{_TRACKING}.pdf")
async def receipt_pdf(request: web.Request) -> web.Response:
    size = request.query.get("size", "a5").lower()
    if size not in PAPER_SIZES:
        raise invalid_request("`size` must be a5 or 80mm.", param="size")
    row = await _own_receipt(request)
    caching, held = _caching(request, row["signed"], size)
    if held:
        return web.Response(status=304, headers=caching)
    svc = services(request)
    qr = make_qr_payload(row["signed"], svc.keyring)
    body = await asyncio.get_running_loop().run_in_executor(
        None, _rendered_pdf, orjson.dumps(row["signed"], option=orjson.OPT_SORT_KEYS), size, qr,
        str(svc.settings.receipt_font))
    return web.Response(body=body, content_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{row["tracking_code"]}-{size}.pdf"', **caching})


@routes.get(f"/v1/receipts/{_TRACKING}.txt")
async def receipt_thermal(request: web.Request) -> web.Response:
    row = await _own_receipt(request)
    caching, held = _caching(request, row["signed"], "txt")
    if held:
        return web.Response(status=304, headers=caching)
    text = render_thermal(row["signed"], make_qr_payload(row["signed"], services(request).keyring))
    return web.Response(text=text, content_type="text/plain", charset="utf-8", headers=caching)


async def _verification(request: web.Request, presented: dict | None) -> dict:
    """What anyone may learn about a receipt: genuine, altered, its place in the chain and its key.
    Nothing personal: no recipient name, national code or mobile."""
    code = _tracking_code(request)
    svc = services(request)
    row = await get_receipt(svc.pool, code)
    if row is None:
        raise not_found("receipt")
    signed = row["signed"]
    signature = svc.keyring.verify(signed)
    previous_hash, next_prev_hash = await chain_neighbours(svc.pool, row["office_id"], row["seq"])
    expected_prev = genesis_hash(row["office_id"]) if row["seq"] == 1 else previous_hash
    answer = {
        "tracking_code": code,
        "genuine": signature.ok and receipt_hash(signed) == row["hash"],
        "signature": signature.to_dict(),
        "key_id": signed["receipt"].get("key_id"),
        "issued_at": signed["receipt"].get("issued_at"),
        "chain": {
            "office_code": row["office_id"], "seq": row["seq"], "hash": row["hash"], "prev_hash": row["prev_hash"],
            "links_to_previous": None if expected_prev is None else expected_prev == row["prev_hash"],
            "next_links_here": None if next_prev_hash is None else next_prev_hash == row["hash"],
        },
    }
    if presented is not None:
        answer["presented"] = _check_presented(presented, signed, svc)
    return answer


def _check_presented(presented: dict, stored: dict, svc) -> dict:
    if isinstance(presented.get("qr_payload"), str):
        scanned = verify_qr_payload(presented["qr_payload"], svc.keyring.verifying)
        matches = scanned.content is not None and scanned.content.describes(stored)
        return {"kind": "qr_payload", "signature": scanned.result.to_dict(), "matches_stored_receipt": matches,
                "altered": not (scanned.ok and matches)}
    if isinstance(presented.get("receipt"), dict):
        copy = presented["receipt"]
        result = svc.keyring.verify(copy)
        matches = result.ok and receipt_hash(copy) == receipt_hash(stored)
        return {"kind": "receipt", "signature": result.to_dict(), "matches_stored_receipt": matches,
                "altered": not matches}
    raise invalid_request("Post {\"qr_payload\": \"...\"} or {\"receipt\": {...}} to check a copy.")


@routes.get(f"/v1/receipts/{_TRACKING}/verify")
async def verify_receipt(request: web.Request) -> web.Response:
    return json_response(await _verification(request, None))


@routes.post(f"/v1/receipts/{_TRACKING}/verify")
async def verify_presented_receipt(request: web.Request) -> web.Response:
    try:
        presented = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise invalid_request("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(presented, dict):
        raise invalid_request("Post a JSON object.")
    return json_response(await _verification(request, presented))
