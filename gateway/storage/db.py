"""PostgreSQL connections: JSON columns decode to Python objects with orjson on every connection."""
from __future__ import annotations

import asyncpg
import orjson


def _encode_json(value) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, schema="pg_catalog", encoder=_encode_json, decoder=orjson.loads)


async def create_pool(database_url: str, size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(database_url, min_size=min(2, size), max_size=size, init=_init_connection,
                                     statement_cache_size=256)


async def connect(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    await _init_connection(conn)
    return conn
