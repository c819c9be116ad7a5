"""Bearer-key authentication and role/scope checks."""
from __future__ import annotations

import time

from aiohttp import web

from gateway.api_keys import Principal, secret_matches, split_token
from gateway.http.errors import ApiError

_CACHE_SECONDS = 5.0


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "authentication_error", "invalid_api_key", message,
                    headers={"WWW-Authenticate": 'Bearer realm="pishkhan"'})


class Authenticator:
    """Resolves `Authorization: Bearer pk_<id>.<secret>` to a principal. Key rows are cached for a few seconds."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self._cache: dict[str, tuple[float, object]] = {}

    async def principal(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("Send an API key as 'Authorization: Bearer <key>'.")
        parts = split_token(token.strip())
        if parts is None:
            raise _unauthenticated("The API key is malformed.")
        key_id, secret = parts
        row = await self._key_row(key_id)
        if row is None or row["revoked_at"] is not None or not secret_matches(secret, row["key_hash"]):
            raise _unauthenticated("The API key is not valid.")
        return Principal(key_id=key_id, role=row["role"], terminal_id=row["terminal_id"],
                         office_id=row["office_id"], agency_id=row["agency_id"],
                         require_signature=row["require_signature"])

    async def _key_row(self, key_id: str):
        cached = self._cache.get(key_id)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        row = await self.pool.fetchrow(
            """SELECT k.key_hash, k.role, k.terminal_id, t.office_id, k.agency_id, k.require_signature, k.revoked_at
               FROM api_keys k LEFT JOIN terminals t ON t.terminal_id = k.terminal_id WHERE k.id = $1""", key_id)
        self._cache[key_id] = (now + _CACHE_SECONDS, row)
        return row


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise ApiError(403, "permission_error", "role_not_allowed",
                       f"This route is for the {', '.join(roles)} role; this key has the {principal.role} role.")


def require_office(principal: Principal, office_id: str) -> None:
    """Terminals see only their own office; the regulator and admins see every office."""
    if principal.role == "terminal" and principal.office_id != office_id:
        raise ApiError(404, "invalid_request_error", "resource_missing", "No such resource.")
