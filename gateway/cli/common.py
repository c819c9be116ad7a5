"""What every command group shares: the database URL, a connection for the length of a command, instants, the
public keys signatures are checked with."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import asyncpg

from gateway.platform.config import load_settings
from gateway.platform.db import connect
from receipts.keys_files import load_keyring
from receipts.signing import VerifyingKeyring


def database_url() -> str:
    url = load_settings().database_url
    if not url:
        sys.exit("DATABASE_URL is not set (make run and make test set it for the embedded server)")
    return url


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_url())
    try:
        yield conn
    finally:
        await conn.close()


def instant(text: str) -> datetime:
    """An RFC 3339 instant with a time zone; exits with a clear message otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        sys.exit(f"{text}: give an RFC 3339 instant with a time zone (e.g. 2025-03-21T00:00:00Z)")
    return moment


def public_keys(path: str | None) -> VerifyingKeyring:
    """From a file holding GET /v1/keys' answer (or its list), else from the configured key directory."""
    if path:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        return VerifyingKeyring.from_public_keys(document["data"] if isinstance(document, dict) else document)
    return load_keyring(load_settings().key_dir).verifying
