"""Where PostgreSQL's time goes in a run: each statement's time and buffer reads (pg_stat_statements) and each
index's reads past the buffer cache, per completed charge. The growth phase compares them between an empty and a
loaded database to find what grows."""

from __future__ import annotations

import asyncpg

SERVER_SETTINGS = ("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all", "track_io_timing=on")
TOP = 12

_STATEMENTS = """
SELECT queryid, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query, calls, rows, total_exec_time,
       shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written, shared_blk_read_time
FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
_INDEXES = "SELECT indexrelname, idx_blks_read, idx_blks_hit FROM pg_statio_user_indexes"
_TABLES = "SELECT relname, heap_blks_read, heap_blks_hit FROM pg_statio_user_tables"


async def read(database_url: str) -> dict:
    """The cumulative counters now, of a server started with SERVER_SETTINGS."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        statements = {row["queryid"]: dict(row) for row in await conn.fetch(_STATEMENTS)}
        indexes = {
            row["indexrelname"]: (row["idx_blks_read"], row["idx_blks_hit"]) for row in await conn.fetch(_INDEXES)
        }
        tables = {row["relname"]: (row["heap_blks_read"], row["heap_blks_hit"]) for row in await conn.fetch(_TABLES)}
    finally:
        await conn.close()
    return {"statements": statements, "indexes": indexes, "tables": tables}


def per_charge(before: dict, after: dict, charges: int) -> dict:
    """The run's statements by time and the relations by blocks read past the buffer cache, per charge."""
    if charges <= 0:
        return {}
    statements = []
    for queryid, end in after["statements"].items():
        start = before["statements"].get(queryid, {})
        calls = end["calls"] - start.get("calls", 0)
        if calls <= 0:
            continue
        statements.append(
            {
                "query": end["query"],
                "calls": round(calls / charges, 3),
                "rows": round((end["rows"] - start.get("rows", 0)) / charges, 3),
                "ms": round((end["total_exec_time"] - start.get("total_exec_time", 0.0)) / charges, 4),
                **{
                    name: round((end[f"shared_blks_{name}"] - start.get(f"shared_blks_{name}", 0)) / charges, 3)
                    for name in ("hit", "read", "dirtied", "written")
                },
                "read_ms": round((end["shared_blk_read_time"] - start.get("shared_blk_read_time", 0.0)) / charges, 4),
            }
        )
    statements.sort(key=lambda row: row["ms"], reverse=True)
    return {
        "statements": statements[:TOP],
        "statement_ms": round(sum(row["ms"] for row in statements), 4),
        "read_ms": round(sum(row["read_ms"] for row in statements), 4),
        "indexes_read": _blocks_read(before["indexes"], after["indexes"], charges),
        "tables_read": _blocks_read(before["tables"], after["tables"], charges),
    }


def _blocks_read(before: dict, after: dict, charges: int) -> dict[str, dict]:
    rows = {}
    for name, (read, hit) in after.items():
        start_read, start_hit = before.get(name, (0, 0))
        read, hit = (read or 0) - (start_read or 0), (hit or 0) - (start_hit or 0)
        if read or hit:
            rows[name] = {"read": round(read / charges, 3), "hit": round(hit / charges, 3)}
    return dict(sorted(rows.items(), key=lambda item: item[1]["read"], reverse=True)[:TOP])
