"""CSRF protection for the pages' forms: a signed double-submit token.

A page that shows a form sets a random token in a cookie (HttpOnly, SameSite=Strict) and puts the same token, with an
HMAC of it under the gateway's page secret, in a hidden field. A POST is accepted only when the field's token matches
the cookie and its HMAC verifies, so another site can neither read nor forge the pair, and no server-side state is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from aiohttp import web

from gateway.core.errors import CsrfTokenInvalid

COOKIE = "pishkhan_csrf"
FIELD = "csrf_token"
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def _mac(secret: bytes, token: str) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def cookie_token(request: web.Request) -> str:
    """The token of the browser's cookie, or a new one when it has none (or a malformed one)."""
    token = request.cookies.get(COOKIE, "")
    return token if len(token) == _TOKEN_LENGTH else secrets.token_urlsafe(32)


def field_value(token: str, secret: bytes) -> str:
    return f"{token}.{_mac(secret, token)}"


def set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/")


def check(request: web.Request, form: Mapping[str, object], secret: bytes) -> None:
    """Refuses the POST unless the form carries the token of the cookie, signed by the gateway."""
    token, _, mac = str(form.get(FIELD, "")).partition(".")
    cookie = request.cookies.get(COOKIE, "")
    if not (cookie and hmac.compare_digest(token, cookie) and hmac.compare_digest(mac, _mac(secret, token))):
        raise CsrfTokenInvalid(param=FIELD)
