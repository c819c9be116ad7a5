"""API keys: `pk_<id>.<secret>`. Only the SHA-256 of the secret is stored; lookups go by the public id and the
secret is compared in constant time. Secrets are 256-bit random, so a fast hash is enough."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

ROLES = ("terminal", "agency", "regulator", "admin")


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    terminal_id: str | None = None
    office_id: str | None = None
    agency_id: str | None = None
    require_signature: bool = False
    province: str | None = None  # a regulator key of one province's offices; None: every province


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret_hash: bytes
    token: str


def generate_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret), f"pk_{key_id}.{secret}")


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def split_token(token: str) -> tuple[str, str] | None:
    if not token.startswith("pk_") or "." not in token:
        return None
    key_id, _, secret = token[3:].partition(".")
    if not key_id or not secret or len(token) > 200:
        return None
    return key_id, secret


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
