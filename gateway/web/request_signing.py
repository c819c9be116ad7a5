"""Signed requests: HMAC-SHA256 over the method, the path with its query, a timestamp, a nonce and the body's SHA-256.

A signed request names its key without sending the secret:

    Authorization: PK-HMAC-SHA256 <key id>
    X-Pishkhan-Timestamp: <Unix seconds>
    X-Pishkhan-Nonce: <16 to 64 of A-Z a-z 0-9 _ ->
    X-Pishkhan-Signature: <lowercase hex HMAC-SHA256 of `string_to_sign`>

The HMAC key is SHA-256 of the key's secret: the client computes it from its secret, and the gateway holds it as the
key's stored hash, so no secret is kept in clear (docs/security.md weighs this choice). A timestamp more than
`MAX_SKEW_SECONDS` away from the gateway's clock is stale. A nonce is accepted once: Redis remembers it for twice
the allowed skew, which outlasts every moment at which its timestamp could still be accepted. Its key carries the
caller's hash tag (`pishkhan:{<office>}:nonce:<key id>:<nonce>` for a terminal's key), so a charge request's nonce
is spent in the terminal lock's script (gateway/access/rate_counts.py); every other request spends it here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from aiohttp import web

from gateway.access.api_keys import hash_secret, split_token
from gateway.access.rate_counts import Nonce
from gateway.core.errors import NonceReplayed, SignatureInvalid, SignatureMissing, TimestampStale

SCHEME = "PK-HMAC-SHA256"
TIMESTAMP_HEADER = "X-Pishkhan-Timestamp"
NONCE_HEADER = "X-Pishkhan-Nonce"
SIGNATURE_HEADER = "X-Pishkhan-Signature"
MAX_SKEW_SECONDS = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def string_to_sign(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join(
        (SCHEME, method.upper(), path_with_query, timestamp, nonce, hashlib.sha256(body).hexdigest())
    ).encode()


def compute_signature(hmac_key: bytes, message: bytes) -> str:
    return hmac.new(hmac_key, message, hashlib.sha256).hexdigest()


def signed_headers(
    api_key: str,
    method: str,
    path_with_query: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers a client sends to sign one request with its key `pk_<id>.<secret>`. The path is exactly as it
    goes on the wire, query string included."""
    parts = split_token(api_key)
    if parts is None:
        raise ValueError("not a Pishkhan API key")
    key_id, secret = parts
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    signature = compute_signature(hash_secret(secret), string_to_sign(method, path_with_query, stamp, nonce, body))
    return {
        "Authorization": f"{SCHEME} {key_id}",
        TIMESTAMP_HEADER: stamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature,
    }


class SignatureVerifier:
    """Checks a signed request for one key; raises the named error of the reason it is refused."""

    def __init__(self, redis, *, max_skew: int = MAX_SKEW_SECONDS, clock=time.time) -> None:
        self.redis = redis
        self.max_skew = max_skew
        self.clock = clock

    async def verify(self, request: web.Request, key_id: str, hmac_key: bytes, tag: str) -> None:
        """Checks the request and spends its nonce."""
        nonce = await self.verify_unspent(request, key_id, hmac_key, tag)
        if not await self.redis.set(nonce.key, b"1", nx=True, px=nonce.lifetime_ms):
            raise NonceReplayed()

    async def verify_unspent(self, request: web.Request, key_id: str, hmac_key: bytes, tag: str) -> Nonce:
        """Checks the request, its nonce left for the caller to spend (only a correctly signed request spends its
        nonce, so nobody else can burn a client's nonces); `tag` is the caller's Redis hash tag."""
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        nonce = request.headers.get(NONCE_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not (_TIMESTAMP.fullmatch(timestamp) and _NONCE.fullmatch(nonce) and _SIGNATURE.fullmatch(signature)):
            raise SignatureMissing(
                f"A signed request carries {TIMESTAMP_HEADER} (Unix seconds), {NONCE_HEADER} (16 to 64 of "
                f"A-Z a-z 0-9 _ -) and {SIGNATURE_HEADER} (64 lowercase hex digits)."
            )
        if abs(self.clock() - int(timestamp)) > self.max_skew:
            raise TimestampStale(f"{TIMESTAMP_HEADER} is more than {self.max_skew} s from the gateway's clock.")
        expected = compute_signature(
            hmac_key, string_to_sign(request.method, request.raw_path, timestamp, nonce, await request.read())
        )
        if not hmac.compare_digest(expected, signature):
            raise SignatureInvalid()
        return Nonce(f"pishkhan:{{{tag}}}:nonce:{key_id}:{nonce}", 2 * self.max_skew * 1000)
