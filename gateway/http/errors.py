"""The one error shape every route answers with: {"error": {"type", "code", "message", "param", "details"}}."""
from __future__ import annotations

from typing import Any

from aiohttp import web
import orjson


class ApiError(Exception):
    def __init__(self, status: int, type_: str, code: str, message: str, *, param: str | None = None,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.code = code
        self.message = message
        self.param = param
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"type": self.type, "code": self.code, "message": self.message,
                          "param": self.param, "details": self.details}}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def error_response(error: ApiError) -> web.Response:
    return json_response(error.body(), status=error.status, headers=error.headers)


def invalid_request(message: str, *, param: str | None = None, code: str = "invalid_request",
                    details: dict | None = None, status: int = 400) -> ApiError:
    return ApiError(status, "invalid_request_error", code, message, param=param, details=details)


def not_found(what: str) -> ApiError:
    return ApiError(404, "invalid_request_error", "resource_missing", f"No such {what}.")


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "resource_missing",
               405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media_type"}


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_type = "authentication_error" if exc.status == 401 else "invalid_request_error"
        return error_response(ApiError(exc.status, error_type, _HTTP_CODES.get(exc.status, "http_error"),
                                       exc.reason or "Request refused.", headers=
                                       {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None))
    except Exception:
        request.app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "api_error", "internal_error",
                                       "The gateway could not complete the request; it is safe to retry "
                                       "with the same Idempotency-Key."))
