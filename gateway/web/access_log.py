"""Every query the regulator makes, on any route, is written to regulator_access_log: who (API key id), what
(method, path and query string), when, and the status it was answered with. So is every page a signed-in person
opens (by username), and every sign-in attempt (written by the sign-in itself)."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.core.errors import AccessLogUnavailable, GatewayError
from gateway.oversight.store import log_access
from gateway.people.store import log_person_access
from gateway.web.context import principal, services
from gateway.web.errors import error_response
from gateway.web.pages.signin import PERSON

log = logging.getLogger(__name__)
_UNIDENTIFIED = (401, 429)  # the caller was not identified, or was refused before being counted
CLIENT_GONE = 499  # the answer was cut off: the client went away while it was being sent


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL; the log keeps it visibly escaped instead of refusing the query."""
    return text.replace("\x00", "\\x00")


async def _record(request: web.Request, status: int) -> bool:
    """Writes the entry if the caller is a regulator, or a signed-in person on a page; False only when such an entry
    could not be written."""
    if PERSON in request:
        return await _record_person(request, status)
    if "Authorization" not in request.headers or status in _UNIDENTIFIED:
        return True
    try:
        caller = await principal(request)  # already resolved by the route, unless the route is public
    except GatewayError:
        return True  # not a valid key: nobody to record
    if caller.role != "regulator":
        return True
    try:
        await log_access(
            services(request).pool,
            key_id=caller.key_id,
            method=request.method,
            path=_storable(request.path),
            query=_storable(request.query_string),
            status=status,
        )
    except Exception:
        log.exception("could not record a regulator query to %s", request.path)
        return False
    return True


async def _record_person(request: web.Request, status: int) -> bool:
    try:
        await log_person_access(
            services(request).pool,
            username=request[PERSON].username,
            method=request.method,
            path=_storable(request.path),
            query=_storable(request.query_string),
            status=status,
        )
    except Exception:
        log.exception("could not record a page of %s", request.path)
        return False
    return True


@web.middleware
async def regulator_access_log(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as answer:  # a redirect, passed on by the error middleware
        await _record(request, answer.status)
        raise
    except BaseException:
        await _record(request, CLIENT_GONE)
        raise
    if not await _record(request, response.status) and not response.prepared:
        # An unrecorded query is not answered (a streamed export has already been sent, and only logs the failure).
        return error_response(AccessLogUnavailable())
    return response
