"""Passwords (argon2id through argon2-cffi, with its default parameters) and the TOTP second factor (RFC 6238
through pyotp: six digits, 30-second steps, one step of clock drift either way, each step good once)."""

from __future__ import annotations

from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# Verified when the username is unknown, so an unknown name takes as long to refuse as a wrong password.
_DECOY_HASH = _HASHER.hash("not a password of anyone")
ISSUER = "Pishkhan"
MIN_PASSWORD_LENGTH = 12
STEP_SECONDS = 30


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def password_matches(password: str, stored_hash: str | None) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DECOY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def accepted_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step the code belongs to (now, or one step either side), if it is right and newer than the last
    step accepted; None otherwise. A code seen once is refused ever after, so an overheard code cannot be replayed."""
    code = code.strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if step > last_step and totp.verify(code, for_time=step * STEP_SECONDS, valid_window=0):
            return step
    return None
