"""Tariff approvals in PostgreSQL: the files are the source, the database is what every gateway process reads."""

from __future__ import annotations

import asyncpg


async def save_tariff_documents(conn: asyncpg.Connection, documents: list[tuple[str, str, dict]]) -> None:
    """documents: (approval reference, source file name, document)."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO tariff_approvals (reference, source_file, document) VALUES ($1, $2, $3)
               ON CONFLICT (reference) DO UPDATE SET source_file = EXCLUDED.source_file,
                 document = EXCLUDED.document, loaded_at = now()
               WHERE tariff_approvals.document IS DISTINCT FROM EXCLUDED.document""",
            documents,
        )


async def tariff_version(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT coalesce(floor(extract(epoch FROM max(loaded_at)) * 1000)::bigint, 0) + count(*) FROM tariff_approvals"
    )


async def read_tariff_documents(conn: asyncpg.Connection) -> list[dict]:
    return [r["document"] for r in await conn.fetch("SELECT document FROM tariff_approvals ORDER BY reference")]
