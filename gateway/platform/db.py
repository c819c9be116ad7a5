"""PostgreSQL connections: JSON columns decode to Python objects with orjson on every connection.

Pool connections carry no session state: nothing on them runs SET (only SET LOCAL), LISTEN or takes a session
advisory lock (work that needs one opens its own connection). So a connection going back to the pool only has an
open transaction rolled back, which asyncpg always does, and skips the default reset query (advisory unlock, CLOSE
ALL, UNLISTEN, RESET ALL): that would be a second round trip after every statement on the charge path."""

from __future__ import annotations

import asyncpg
import orjson

_JSONB_VERSION = b"\x01"  # the binary form of jsonb is a version byte followed by the JSON text


def _encode_jsonb(value) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _decode_jsonb(data: bytes):
    return orjson.loads(memoryview(data)[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary on the wire: orjson's bytes go out as they are, with no str round trip for the signed receipts.
    await conn.set_type_codec("json", schema="pg_catalog", encoder=orjson.dumps, decoder=orjson.loads, format="binary")
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_encode_jsonb, decoder=_decode_jsonb, format="binary"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset: see the module's docstring."""


async def create_pool(database_url: str, size: int, min_size: int = 2, *, generic_plans: bool = False) -> asyncpg.Pool:
    """With `generic_plans`, the connections plan every prepared statement once, whatever its arguments
    (plan_cache_mode): for a pool whose statements PostgreSQL would otherwise plan again on every call."""
    return await asyncpg.create_pool(
        database_url,
        min_size=min(min_size, size),
        max_size=size,
        init=_init_connection,
        reset=_keep_session,
        statement_cache_size=256,
        server_settings={"plan_cache_mode": "force_generic_plan"} if generic_plans else None,
    )


async def connect(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    await _init_connection(conn)
    return conn
