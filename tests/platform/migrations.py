"""Databases at an earlier schema, for the tests of migrations that carry existing rows."""

from __future__ import annotations

import asyncpg

from gateway.platform.migrate import migration_files


async def migrate_until(url: str, first_not_applied: str) -> None:
    """The schema as it was before `first_not_applied`: the earlier migrations applied and recorded."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz DEFAULT now())"
        )
        for path in migration_files():
            if path.name >= first_not_applied:
                break
            await conn.execute(path.read_text(encoding="utf-8"))
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
    finally:
        await conn.close()
