"""Reading PostgreSQL's `EXPLAIN (FORMAT JSON)` output in tests that pin a statement's plan."""

from __future__ import annotations

from collections.abc import Iterator


def plan_nodes(node: dict) -> Iterator[dict]:
    """A plan node and every node under it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def scanned_relations(node: dict, *, executed_only: bool = False) -> list[str]:
    """The tables a plan reads, one entry per scan node; with `executed_only` (an `EXPLAIN ANALYZE` plan), only the
    scans that ran at least once."""
    return [
        child["Relation Name"]
        for child in plan_nodes(node)
        if "Relation Name" in child
        and child["Node Type"] != "ModifyTable"
        and not (executed_only and child.get("Actual Loops", 1) == 0)
    ]


class RecordingConnection:
    """A connection that runs every statement as asked and remembers it with its arguments, so a test can read the
    plan of each statement a feature sends."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.statements: list[tuple[str, tuple]] = []

    def _record(self, sql: str, args: tuple) -> None:
        self.statements.append((sql, args))

    async def fetch(self, sql: str, *args):
        self._record(sql, args)
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args):
        self._record(sql, args)
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args):
        self._record(sql, args)
        return await self.conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args):
        self._record(sql, args)
        return await self.conn.execute(sql, *args)


async def plan_of(db, sql: str, args, *, generic: bool) -> dict:
    """The plan of `sql` with `args` as it ran (`EXPLAIN ANALYZE`, rolled back): a custom plan (the values planned
    in), or the generic plan a prepared statement settles on after a few runs, which prunes partitions when it starts
    and, inside a join, on every rescan. Read it with `scanned_relations(..., executed_only=True)`."""
    mode = "force_generic_plan" if generic else "force_custom_plan"
    transaction = db.transaction()
    await transaction.start()
    try:
        await db.execute(f"SET LOCAL plan_cache_mode = {mode}")
        (plan,) = await db.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    finally:
        await transaction.rollback()
    return plan["Plan"]


def month_partition(table: str, moment) -> str:
    """The name of the month partition `moment` falls in (migration 0100)."""
    return f"{table}_{moment:%Y_%m}"


async def index_of_table(db) -> dict[str, str]:
    """Each index by its name, mapped to the name of the partitioned table's index it is the partition's copy of
    (itself for an index of a plain table), so a plan test can name the index as the migration does."""
    rows = await db.fetch(
        """SELECT c.relname AS name, coalesce(p.relname, c.relname) AS parent
           FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
           WHERE c.relkind IN ('i', 'I') AND c.relnamespace = 'public'::regnamespace"""
    )
    return {row["name"]: row["parent"] for row in rows}
