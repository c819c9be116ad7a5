"""What the void and refund routes share: a charge's way back is asked for by its terminal with an Idempotency-Key,
a reason and a text, and read by its office or the regulator."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from gateway.core.errors import IdempotencyKeyMissing
from gateway.web.auth import require_role
from gateway.web.context import principal, services
from gateway.web.errors import json_response, not_found
from gateway.web.routes.charges import MAX_IDEMPOTENCY_KEY
from gateway.web.schemas import VoidRequest, parse_body


def charge_id_of(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["charge_id"])
    except ValueError:
        raise not_found("charge") from None


def idempotency_key_of(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise IdempotencyKeyMissing(
            f"The Idempotency-Key header is required (1 to {MAX_IDEMPOTENCY_KEY} characters).", param="Idempotency-Key"
        )
    return key


async def ask(request: web.Request, kind: str, service: Any, answer: Callable[[Any], tuple[int, dict]]) -> web.Response:
    """Asks `service` (the voids or the refunds) to undo the charge; `kind` keeps the two requests' hashes apart."""
    caller = await principal(request)
    require_role(caller, "terminal")
    key = idempotency_key_of(request)
    charge_id = charge_id_of(request)
    body = parse_body(VoidRequest, await request.read())
    request_hash = hashlib.sha256(
        orjson.dumps({kind: str(charge_id), **body.model_dump()}, option=orjson.OPT_SORT_KEYS)
    ).digest()
    undone = await service.request(
        charge_id,
        office_id=caller.office_id,
        requested_by=caller.key_id,
        reason=body.reason,
        reason_text=body.reason_text,
        idempotency_key=key,
        request_hash=request_hash,
    )
    status, answered = answer(undone)
    return json_response(answered, status=status)


async def read(
    request: web.Request, kind: str, of_charge: Callable[[Any, uuid.UUID], Awaitable[Any]], view: Callable[[Any], dict]
) -> web.Response:
    caller = await principal(request)
    require_role(caller, "terminal", "regulator", "admin")
    found = await of_charge(services(request).pool, charge_id_of(request))
    if found is None or (caller.role == "terminal" and found.office_id != caller.office_id):
        raise not_found(kind)
    return json_response(view(found))
