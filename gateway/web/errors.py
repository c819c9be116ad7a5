"""The HTTP face of the named errors (gateway/core/errors.py): the one table of their statuses, the error shape
`{"error": {"type", "code", "message", "param", "details"}}` as a response, and the middleware that answers every
error (aiohttp's own refusals and unexpected failures included) in that shape."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from gateway.core import errors
from gateway.core.errors import GatewayError
from gateway.platform import metrics
from gateway.platform.dependencies import unavailable_store

log = logging.getLogger(__name__)

# The status of each error, found by the nearest class up its hierarchy.
STATUS: dict[type[GatewayError], int] = {
    errors.InvalidRequest: 400,
    errors.Forbidden: 403,
    errors.ResourceMissing: 404,
    errors.MethodNotAllowed: 405,
    errors.TerminalBusy: 409,
    errors.RequestTooLarge: 413,
    errors.RequestTimeout: 408,
    errors.HeadersTooLarge: 431,
    errors.UnsupportedMediaType: 415,
    errors.SettlementFileRejected: 422,
    errors.AuthenticationFailed: 401,
    errors.RateLimited: 429,
    errors.PermissionDenied: 403,
    errors.IdempotencyKeyReused: 409,
    errors.CashForbidden: 422,
    errors.IdentityMismatch: 422,
    errors.IdentityUnavailable: 503,
    errors.TariffRefusal: 422,
    errors.VoidWindowClosed: 409,
    errors.VoidRefused: 422,
    errors.VoidWindowOpen: 409,
    errors.RefundRefused: 422,
    errors.CardError: 402,
    errors.PspError: 502,
    errors.ServiceUnavailable: 503,
    errors.AccessLogUnavailable: 503,
    errors.GatewayError: 500,
}

# aiohttp's own refusals (routing, body size, methods), as named errors.
_BY_HTTP_STATUS: dict[int, type[GatewayError]] = {
    400: errors.BadRequest,
    401: errors.AuthenticationFailed,
    403: errors.Forbidden,
    404: errors.ResourceMissing,
    405: errors.MethodNotAllowed,
    413: errors.RequestTooLarge,
    415: errors.UnsupportedMediaType,
}

CLIENT_GONE = 499  # the client closed the connection before it was answered (nginx's code)

# A store restart takes seconds to a minute or two; a client coming back after this finds it up or asks again.
STORE_RETRY_AFTER_S = 5

WWW_AUTHENTICATE = 'Bearer realm="pishkhan", PK-HMAC-SHA256 realm="pishkhan"'


def status_of(error: GatewayError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise TypeError(f"{type(error).__name__} is not a GatewayError")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def error_response(error: GatewayError, headers: dict[str, str] | None = None) -> web.Response:
    all_headers = dict(headers or {})
    if isinstance(error, errors.AuthenticationFailed):
        all_headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    if error.retry_after is not None:
        all_headers["Retry-After"] = str(error.retry_after)
    return json_response(error.body(), status=status_of(error), headers=all_headers or None)


def invalid_request(message: str, *, param: str | None = None, details: dict | None = None) -> errors.InvalidRequest:
    return errors.InvalidRequest(message, param=param, details=details)


def not_found(what: str) -> errors.ResourceMissing:
    return errors.ResourceMissing(f"No such {what}.")


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except GatewayError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        named = _BY_HTTP_STATUS.get(exc.status, errors.HttpRefused)
        return error_response(
            named(exc.reason or None), headers=({"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None)
        )
    except Exception as exc:
        store = unavailable_store(exc)
        if store is None and isinstance(exc, ConnectionResetError):
            # The client went away while its request was being read: nobody to answer, and no fault of ours.
            log.info("client gone on %s %s", request.method, request.path)
            return web.Response(status=CLIENT_GONE)
        if store is None:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(errors.InternalError())
        metrics.STORE_UNAVAILABLE.labels(store=store).inc()
        log.warning("%s unreachable on %s %s: %r", store, request.method, request.path, exc)
        return error_response(store_unavailable(store))


def store_unavailable(store: str) -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable(
        f"The gateway's {store} store cannot be reached right now; retry shortly with the same Idempotency-Key "
        "(a charge already under way is never charged twice).",
        details={"dependency": store},
        retry_after=STORE_RETRY_AFTER_S,
    )
