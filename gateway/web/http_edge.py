"""What reaches the gateway before any route: the bytes of the request line and headers.

aiohttp answers what its parser refuses (bad bytes, oversized or too many headers, conflicting Content-Length and
Transfer-Encoding) itself, before any middleware, in a plain-text page that quotes the offending bytes. It offers no
hook for that page, so its protocol handler's `handle_error` is replaced by one that answers in the error shape and
quotes nothing. Headers and URLs that parse but are not UTF-8 (aiohttp keeps such bytes as lone surrogates) or carry
control characters are refused here too, before authentication or the regulator's access log read them."""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import hdrs, web, web_protocol
from aiohttp.http_exceptions import LineTooLong

from gateway.core import errors
from gateway.web.context import services
from gateway.web.errors import error_response

log = logging.getLogger(__name__)
SERVER_NAME = "pishkhan"  # no product versions for a scanner to match against known flaws

# Streamed bodies, not bound by the body-size limit (the PSP file import).
STREAMED_BODY_PATHS = frozenset({"/v1/psps/{psp_id}/settlement-files"})


def _parser_refusal(status: int, exc: BaseException | None) -> errors.GatewayError:
    if isinstance(exc, LineTooLong) or ("header" in str(exc).lower() and "too many" in str(exc).lower()):
        return errors.HeadersTooLarge()
    if status == 408 or isinstance(exc, TimeoutError):
        return errors.RequestTimeout()
    if 400 <= status < 500:
        return errors.BadRequest("The request could not be parsed as HTTP/1.1.")
    return errors.InternalError()


def _handle_error(
    self: web_protocol.RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """aiohttp's last-resort answer (parser refusals; failures past every middleware), in the error shape."""
    if status >= 500:
        log.error("unhandled error before or after the routes", exc_info=exc)
    else:
        log.info("refused at the HTTP parser: %s", type(exc).__name__ if exc else status)
    if request.writer.output_size > 0:
        raise ConnectionError("the answer has started already; the connection is closed instead")
    response = error_response(_parser_refusal(status, exc))
    response.headers[hdrs.SERVER] = SERVER_NAME
    response.force_close()
    return response


def install_parser_error_shape() -> None:
    web_protocol.RequestHandler.handle_error = _handle_error  # type: ignore[method-assign]


async def name_the_server(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[hdrs.SERVER] = SERVER_NAME


# Bytes that were not UTF-8 (kept by aiohttp as lone surrogates), or control characters (a tab is whitespace HTTP
# allows inside a header value).
_UNREADABLE = re.compile("[\ud800-\udfff\x00-\x08\x0a-\x1f\x7f]")
_NOT_UTF8 = re.compile("[\ud800-\udfff]")


@web.middleware
async def readable_request(request: web.Request, handler):
    """Refuses a URL or a header that is not clean UTF-8 text: 401 for Authorization, 400 naming it otherwise."""
    for name, value in request.headers.items():
        if _UNREADABLE.search(value) or _UNREADABLE.search(name):
            if name.lower() == "authorization":
                return error_response(errors.InvalidApiKey("The Authorization header is not UTF-8 text."))
            return error_response(errors.BadRequest(f"The {name} header is not UTF-8 text.", param=name))
    try:
        path, query = request.path, request.query_string
    except UnicodeDecodeError:
        return error_response(errors.BadRequest("The URL is not UTF-8 text."))
    if _NOT_UTF8.search(path) or _NOT_UTF8.search(query):
        return error_response(errors.BadRequest("The URL is not UTF-8 text."))
    if "\x00" in path:
        return error_response(errors.ResourceMissing())  # no resource is named with a NUL
    if "\x00" in query:
        return error_response(errors.BadRequest("The query string holds a NUL."))
    return await handler(request)


async def refuse_oversized_expect(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue`: a body over the limit is refused at once (413) instead of being invited."""
    if request.version != (1, 1) or request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
        return error_response(errors.BadRequest("Unknown Expect header.", param="Expect"))
    resource = request.match_info.route.resource
    streamed = resource is not None and resource.canonical in STREAMED_BODY_PATHS
    if (request.content_length or 0) > request.client_max_size and not streamed:
        response = error_response(errors.RequestTooLarge())
        response.force_close()
        return response
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the answer itself has not started
    return None


@web.middleware
async def body_deadline(request: web.Request, handler):
    """A body that trickles in is cut off after PISHKHAN_BODY_TIMEOUT_S (408): a slow client cannot hold a
    connection and its handler open. Streamed bodies are read by their route as they come."""
    resource = request.match_info.route.resource
    if request.body_exists and not (resource is not None and resource.canonical in STREAMED_BODY_PATHS):
        # aiohttp parses a multipart form straight from the stream, so its handler reads it within the deadline;
        # any other body is read here and kept by aiohttp for the handler's own read.
        multipart = request.content_type.startswith("multipart/")
        if not multipart and request.content.is_eof():
            return await handler(request)  # the whole body came with the headers: nothing to wait for
        try:
            async with asyncio.timeout(services(request).settings.body_timeout_s):
                if multipart:
                    return await handler(request)
                await request.read()
        except TimeoutError:
            response = error_response(errors.RequestTimeout())
            response.force_close()  # the rest of the body is not waited for
            return response
    return await handler(request)
