"""Every query the regulator makes, on any route, is written to regulator_access_log: who (API key id), what
(method, path and query string), when, and the status it was answered with, each entry chained to the one before
(gateway/oversight/access_log.py)."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.core.errors import AccessLogUnavailable, GatewayError
from gateway.oversight.access_log import log_access
from gateway.web.context import principal, services
from gateway.web.errors import CLIENT_GONE, error_response

log = logging.getLogger(__name__)
_UNIDENTIFIED = (401, 429)  # the caller was not identified, or was refused before being counted


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL; the log keeps it visibly escaped instead of refusing the query."""
    return text.replace("\x00", "\\x00")


async def _record(request: web.Request, status: int) -> bool:
    """Writes the entry if the caller is a regulator; False only when such an entry could not be written."""
    if "Authorization" not in request.headers or status in _UNIDENTIFIED:
        return True
    try:
        caller = await principal(request)  # already resolved by the route, unless the route is public
    except GatewayError:
        return True  # not a valid key: nobody to record
    except Exception as exc:
        # A store is down. An answer that is already a server-side refusal stands (nobody learnt anything); any
        # other answer is withheld, since it may be a regulator's query that cannot be recorded.
        log.warning("could not tell who queried %s: %r", request.path, exc)
        return status >= 500
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
