"""Autovacuum's passes during a measuring window: the tables it vacuumed or analysed, and when the last pass of each
ended, in seconds of the window, so that the crowded seconds of a latency phase can be set against them
(docs/performance.md, "The tail at half of peak: autovacuum's ANALYZE bursts")."""

from __future__ import annotations

import asyncpg

_PASSES = """
SELECT relname, autovacuum_count, autoanalyze_count,
       extract(epoch FROM last_autovacuum)::float8 AS last_vacuum,
       extract(epoch FROM last_autoanalyze)::float8 AS last_analyze
FROM pg_stat_user_tables
"""


async def read(database_url: str) -> dict[str, tuple]:
    """Each table's autovacuum and autoanalyze counts and the Unix times their last passes ended."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(_PASSES)
    finally:
        await conn.close()
    return {
        row["relname"]: (row["autovacuum_count"], row["autoanalyze_count"], row["last_vacuum"], row["last_analyze"])
        for row in rows
    }


def in_window(before: dict[str, tuple], after: dict[str, tuple], window_start_unix: float) -> list[dict]:
    """The passes between the two readings, by table."""
    passes = []
    for table, (vacuums, analyzes, last_vacuum, last_analyze) in sorted(after.items()):
        vacuums_before, analyzes_before, _, _ = before.get(table, (0, 0, None, None))
        if vacuums == vacuums_before and analyzes == analyzes_before:
            continue
        passes.append(
            {
                "table": table,
                "vacuums": vacuums - vacuums_before,
                "analyzes": analyzes - analyzes_before,
                "last_ended_s": int(max(t for t in (last_vacuum, last_analyze) if t is not None) - window_start_unix),
            }
        )
    return passes


def describe(passes: list[dict]) -> str:
    return (
        ", ".join(
            f"{p['table']} ({p['vacuums']} vacuum, {p['analyzes']} analyze, the last ending at {p['last_ended_s']} s)"
            for p in passes
        )
        or "none"
    )
