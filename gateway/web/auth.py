"""Who is calling: bearer keys and signed requests, the per-key and per-terminal rate limits, and role/scope checks.

Key rows are read from PostgreSQL on every request (a primary-key lookup), so a revoked key is refused by every
gateway process from the moment the revocation commits; docs/security.md gives the measured cost. The one
exception is the charge route (`charge_principal`): it takes an active key's row from memory after its first use,
and the charge's own persisting statement refuses a revoked key in the same transaction, so a revoked key still
moves no money and changes nothing, for one PostgreSQL round trip less per charge; and its request is counted
against the rate limits, and a signed request's nonce spent, by the terminal lock's script (`pending`), one Redis
round trip instead of two or three. Until then a signed charge request is checked (key, timestamp, signature) but
its nonce is not spent: the charge route spends it, with the count, before anything is refused, written or asked,
so a replay is refused with the same 401 and changes nothing.
"""

from __future__ import annotations

import re

from aiohttp import web
from asyncpg import Record
from redis.exceptions import RedisError

from gateway.access.api_keys import Principal, secret_matches, split_token
from gateway.access.rate_counts import Nonce, PendingCount, nonce_unavailable, redis_tag
from gateway.core.errors import (
    GatewayError,
    InvalidApiKey,
    ResourceMissing,
    RoleNotAllowed,
    SignatureRequired,
)
from gateway.web.rate_limit import RateLimiter
from gateway.web.request_signing import SCHEME as SIGNED_SCHEME
from gateway.web.request_signing import SignatureVerifier

_PRINCIPAL = web.RequestKey("principal", Principal)
_REFUSAL = web.RequestKey("refusal", GatewayError)
_UNSPENT_NONCE = web.RequestKey("unspent_nonce", Nonce)
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REMEMBERED_KEYS = 200_000  # active key rows kept for charge_principal: one per terminal and more
_KEY_ROW = """SELECT k.key_hash, k.role, k.terminal_id, t.office_id, k.agency_id, k.require_signature, k.revoked_at,
                     k.province
              FROM api_keys k LEFT JOIN terminals t ON t.terminal_id = k.terminal_id WHERE k.id = $1"""


class Authenticator:
    """Resolves `Authorization: Bearer pk_<id>.<secret>` or a signed request (`PK-HMAC-SHA256 <id>`, see
    request_signing) to a principal, then counts the request against its rate limits. The principal, or the
    refusal, is kept on the request: asking again neither counts the request twice nor spends its nonce twice."""

    def __init__(self, pool, signatures: SignatureVerifier, limiter: RateLimiter) -> None:
        self.pool = pool
        self.signatures = signatures
        self.limiter = limiter
        self._active_rows: dict[str, Record] = {}  # key rows found active, for charge_principal

    async def principal(self, request: web.Request) -> Principal:
        """The caller, its key row read from PostgreSQL for this request."""
        return await self._once(request, charge_route=False)

    async def charge_principal(self, request: web.Request) -> Principal:
        """The charge route's caller: an active key's row may come from memory (the route passes `key_id` to the
        charge's insert, which refuses a revoked key), and the request is not yet counted, nor its nonce spent
        (the route spends `pending(request, caller)` on every path)."""
        return await self._once(request, charge_route=True)

    def pending(self, request: web.Request, caller: Principal) -> PendingCount:
        """What the charge route's request still has to spend: its counts, and its nonce if it is signed."""
        return self.limiter.pending(caller, request.get(_UNSPENT_NONCE))

    async def _once(self, request: web.Request, *, charge_route: bool) -> Principal:
        if _PRINCIPAL in request:
            return request[_PRINCIPAL]
        if _REFUSAL in request:
            raise request[_REFUSAL]
        try:
            request[_PRINCIPAL] = await self._identify(request, charge_route)
        except GatewayError as refusal:
            request[_REFUSAL] = refusal
            raise
        return request[_PRINCIPAL]

    async def _identify(self, request: web.Request, charge_route: bool) -> Principal:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            caller = await self._bearer(credentials, from_memory=charge_route)
        elif scheme.upper() == SIGNED_SCHEME and credentials:
            caller = await self._signed(request, credentials, charge_route=charge_route)
        else:
            raise InvalidApiKey(
                "Send an API key as 'Authorization: Bearer <key>', or sign the request "
                f"('Authorization: {SIGNED_SCHEME} <key id>')."
            )
        if not charge_route:
            await self.limiter.check(caller)
        return caller

    async def _bearer(self, token: str, *, from_memory: bool) -> Principal:
        parts = split_token(token)
        if parts is None:
            raise InvalidApiKey("The API key is malformed.")
        key_id, secret = parts
        row = await self._active_key(key_id, from_memory)
        if not secret_matches(secret, row["key_hash"]):
            raise InvalidApiKey()
        if row["require_signature"]:
            raise SignatureRequired(
                f"This key only signs its requests ('Authorization: {SIGNED_SCHEME} <key id>'); "
                "it must never send its secret."
            )
        return _principal(key_id, row)

    async def _signed(self, request: web.Request, key_id: str, *, charge_route: bool) -> Principal:
        if not _KEY_ID.fullmatch(key_id):
            raise InvalidApiKey("The key id is malformed.")
        row = await self._active_key(key_id, charge_route)
        caller = _principal(key_id, row)
        if charge_route:
            request[_UNSPENT_NONCE] = await self.signatures.verify_unspent(
                request, key_id, row["key_hash"], redis_tag(caller)
            )
            return caller
        try:
            await self.signatures.verify(request, key_id, row["key_hash"], redis_tag(caller))
        except RedisError:
            raise nonce_unavailable() from None
        return caller

    async def _active_key(self, key_id: str, from_memory: bool) -> Record:
        if from_memory and key_id in self._active_rows:
            return self._active_rows[key_id]
        row = await self.pool.fetchrow(_KEY_ROW, key_id)
        if row is None or row["revoked_at"] is not None:
            self._active_rows.pop(key_id, None)
            raise InvalidApiKey()
        # Only the revocation ever changes a key row, and the remembered rows serve only routes that re-check it.
        if len(self._active_rows) >= _REMEMBERED_KEYS:
            self._active_rows.clear()
        self._active_rows[key_id] = row
        return row


def _principal(key_id: str, row) -> Principal:
    return Principal(
        key_id=key_id,
        role=row["role"],
        terminal_id=row["terminal_id"],
        office_id=row["office_id"],
        agency_id=row["agency_id"],
        require_signature=row["require_signature"],
        province=row["province"],
    )


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise RoleNotAllowed(f"This route is for the {', '.join(roles)} role; this key has the {principal.role} role.")


def require_office(principal: Principal, office_id: str) -> None:
    """Terminals see only their own office; the regulator and admins see every office."""
    if principal.role == "terminal" and principal.office_id != office_id:
        raise ResourceMissing()
