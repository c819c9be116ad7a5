"""The monthly partitions of the growing tables (migrations 0100-0102 and 0150, docs/scaling.md "Time-partitioned
tables"):
months created ahead of time, and months past the retention exported to files and detached.

A month is a UTC calendar month. Each table is partitioned by RANGE on its key: a UUIDv7 (charges by id, whose
first 48 bits are the millisecond it was made) or a timestamptz (receipts by issued_at, refusals by created_at, the
regulator access log by at, the outbox by created_at)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import asyncpg
import orjson

from gateway.core.clock import Clock
from receipts.audit import export_lines

log = logging.getLogger(__name__)

# Each monthly table, and the order its exported rows are written in. Receipts go one file per office in chain
# order: the form `pishkhan receipts verify` checks.
MONTHLY_TABLES: dict[str, str] = {
    "charges": "id",
    "receipts": "office_id, seq",
    "refusals": "id",
    "regulator_access_log": "seq",
    "outbox": "id",
}
# The tables whose months past the retention are exported and detached, in this order, so nothing is left pointing
# at a row already gone.
RETIRED_TABLES = ("receipts", "refusals", "charges", "regulator_access_log", "outbox")
# What a retired month leaves for the rows that stay: the access log's chain goes on from the month's last entry.
_AFTER_RETIRING = {
    "regulator_access_log": """
        INSERT INTO regulator_access_log_anchor AS a (seq, hash, retired_at)
        SELECT seq, hash, now() FROM {partition} ORDER BY seq DESC LIMIT 1
        ON CONFLICT (only_row) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, retired_at = EXCLUDED.retired_at
            WHERE a.seq < EXCLUDED.seq""",
}
# Rows that may still change: a month holding any of them stays attached (see export_and_detach).
# A month partition is kept attached while any of these rows can still change: (which rows, what they are).
STILL_LIVE = {
    # Not yet accepted nor given up, or accepted and still polled for a delivery report.
    "outbox": ("status = 'pending' OR next_poll_at IS NOT NULL", "messages not yet delivered or given up"),
    # The schedule names the charge by id alone: retired, its settle call would be claimed for ever and run for none.
    "charges": ("id IN (SELECT charge_id FROM settle_calls)", "charges whose separate settle call is still due"),
}
# Partition maintenance waits this long for a lock, then gives up until its next pass rather than queue the charge
# path behind it.
_LOCK_TIMEOUT = "5s"


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def ensure_partitions(db, now: datetime, months_ahead: int) -> list[str]:
    """Creates every missing month partition from this month through `months_ahead` months after it; returns the
    names of those it created."""
    first = month_start(now)
    months = [add_months(first, n) for n in range(months_ahead + 1)]
    async with db.transaction():
        await db.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        rows = await db.fetch(
            """SELECT t || '_' || to_char(m, 'YYYY_MM') AS name
               FROM unnest($1::text[]) AS t, unnest($2::date[]) AS m
               WHERE pishkhan_ensure_month_partition(t::regclass, m)""",
            list(MONTHLY_TABLES),
            months,
        )
    return [row["name"] for row in rows]


async def keep_partitions_ahead(pool, months_ahead: int, interval: float, clock: Clock) -> None:
    """The background pass: the next months' partitions always exist before a row needs them."""
    while True:
        try:
            async with pool.acquire() as conn:
                created = await ensure_partitions(conn, clock(), months_ahead)
            if created:
                log.info("partitions created: %s", ", ".join(created))
        except Exception:
            log.exception("creating partitions ahead failed; retrying")
        await asyncio.sleep(interval)


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    month: date


async def months_before(db, cutoff: date) -> dict[date, list[Partition]]:
    """The month partitions whose whole month ends on or before `cutoff`, by month."""
    rows = await db.fetch(
        """SELECT p.relname AS table, c.relname AS name
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
           WHERE p.relname = ANY($1::text[]) AND p.relnamespace = 'public'::regnamespace
             AND c.relname ~ '_[0-9]{4}_[0-9]{2}$'""",
        list(RETIRED_TABLES),
    )
    by_month: dict[date, list[Partition]] = {}
    for row in rows:
        year, month = row["name"].rsplit("_", 2)[1:]
        first = date(int(year), int(month), 1)
        if add_months(first, 1) <= cutoff:
            by_month.setdefault(first, []).append(Partition(row["table"], row["name"], first))
    return dict(sorted(by_month.items()))


@dataclass(frozen=True)
class Referencing:
    """Rows of another table that point at rows of a partition through a foreign key."""

    table: str
    constraint: str
    where: str  # the condition on the other table's rows, over the partition's rows


async def referencing(db, partition: Partition) -> list[Referencing]:
    """Every foreign key from another table to the partition's table, read from the catalogue now (other features
    add theirs: refunds, voids)."""
    rows = await db.fetch(
        """SELECT c.conrelid::regclass::text AS owner, c.conname,
                  (SELECT array_agg(quote_ident(a.attname) ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY
                   AS k(n, ord) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns,
                  (SELECT array_agg(quote_ident(a.attname) ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY
                   AS k(n, ord) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS referenced
           FROM pg_constraint c
           WHERE c.contype = 'f' AND c.confrelid = $1::regclass AND c.conparentid = 0
             AND c.conrelid <> c.confrelid""",
        partition.table,
    )
    found = []
    for row in rows:
        pairs = " AND ".join(
            f"r.{mine} = p.{theirs}" for mine, theirs in zip(row["columns"], row["referenced"], strict=True)
        )
        where = f"EXISTS (SELECT 1 FROM {partition.name} p WHERE {pairs})"
        found.append(Referencing(row["owner"], row["conname"], where))
    return found


class _LinesFile:
    """A file of lines written as they come, counted, and synced to disk when closed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.out = path.open("wb")
        self.rows = 0

    def write(self, line: bytes) -> None:
        self.out.write(line)
        self.rows += 1

    def close(self) -> int:
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        return self.rows


async def _export_receipts(conn, partition: Partition, folder: Path) -> dict[str, int]:
    """One file per office, its receipts of the month in chain order."""
    written: dict[str, int] = {}
    current: tuple[str, _LinesFile] | None = None
    sql = f"SELECT office_id, signed FROM {partition.name} ORDER BY office_id, seq"
    async for row in conn.cursor(sql, prefetch=2000):
        name = f"receipts/{row['office_id']}.jsonl"
        if current is None or current[0] != name:
            if current is not None:
                written[current[0]] = current[1].close()
            current = (name, _LinesFile(folder / name))
        for line in export_lines([row["signed"]]):
            current[1].write(line.encode())
    if current is not None:
        written[current[0]] = current[1].close()
    return written


async def _export_rows(conn, name: str, sql: str, folder: Path) -> dict[str, int]:
    """Each row of `sql` (one jsonb column) as a line of `name`.jsonl."""
    file = _LinesFile(folder / f"{name}.jsonl")
    async for row in conn.cursor(sql, prefetch=2000):
        file.write(orjson.dumps(row[0]) + b"\n")
    return {f"{name}.jsonl": file.close()}


@dataclass(frozen=True)
class Retired:
    month: date
    folder: Path
    files: dict[str, int]  # file (relative to folder) -> rows
    deleted: dict[str, int]  # another table -> rows deleted with the month
    kept: dict[str, int]  # a partition left attached -> its rows that may still change


async def export_and_detach(
    conn: asyncpg.Connection, month: date, partitions: list[Partition], out: Path, *, keep_detached: bool = False
) -> Retired:
    """Writes the month's rows under out/<YYYY-MM>/ (receipts as per-office JSON lines in chain order, every other
    table as JSON lines of its rows, and the rows of other tables that point at them), with a manifest of every
    file's rows and SHA-256, each file synced to disk; then, in the same transaction, deletes those pointing rows,
    detaches the month's partitions and drops them (`keep_detached` leaves them as plain tables). Nothing is
    detached unless every file was written: a failure leaves the month in place, and running again rewrites it.
    A partition holding rows that may still change (STILL_LIVE: an outbox message not yet delivered or given up,
    a charge whose settle call is due) is neither exported nor detached: it is named in `kept`, and a later run
    retires it once those rows are final."""
    folder = out / month.strftime("%Y-%m")
    ordered = sorted(partitions, key=lambda p: RETIRED_TABLES.index(p.table))
    files: dict[str, int] = {}
    deleted: dict[str, int] = {}
    kept: dict[str, int] = {}
    async with conn.transaction():
        for partition in ordered:
            # Nothing writes to the month meanwhile: what is exported is what is detached.
            await conn.execute(f"LOCK TABLE {partition.name} IN SHARE MODE")
        for partition in ordered:
            if partition.table in STILL_LIVE:
                where, _ = STILL_LIVE[partition.table]
                live = await conn.fetchval(f"SELECT count(*) FROM {partition.name} WHERE {where}")
                if live:
                    kept[partition.name] = live
        ordered = [partition for partition in ordered if partition.name not in kept]
        if not ordered:
            return Retired(month, folder, files, deleted, kept)
        for partition in ordered:
            if partition.table == "receipts":
                files.update(await _export_receipts(conn, partition, folder))
            else:
                order = MONTHLY_TABLES[partition.table]
                sql = f"SELECT to_jsonb(t) FROM {partition.name} t ORDER BY {order}"
                files.update(await _export_rows(conn, partition.table, sql, folder))
            for other in await referencing(conn, partition):
                name = f"{other.table}.{partition.table}"
                files.update(
                    await _export_rows(
                        conn, name, f"SELECT to_jsonb(r) FROM {other.table} r WHERE {other.where}", folder
                    )
                )
                result = await conn.execute(f"DELETE FROM {other.table} r WHERE {other.where}")
                deleted[other.table] = deleted.get(other.table, 0) + int(result.split()[-1])
        listed = _manifest(month, folder, files)
        manifest = _LinesFile(folder / "manifest.json")
        manifest.write(orjson.dumps(listed, option=orjson.OPT_INDENT_2) + b"\n")
        manifest.close()
        await conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        for partition in ordered:
            if partition.table in _AFTER_RETIRING:
                await conn.execute(_AFTER_RETIRING[partition.table].format(partition=partition.name))
            await conn.execute(f"ALTER TABLE {partition.table} DETACH PARTITION {partition.name}")
            if not keep_detached:
                await conn.execute(f"DROP TABLE {partition.name}")
    return Retired(month, folder, files, deleted, kept)


def _manifest(month: date, folder: Path, files: dict[str, int]) -> dict:
    """The files written now, beside those an earlier run wrote for the month and this one did not rewrite (a month
    whose outbox was kept back is retired in two runs)."""
    earlier = folder / "manifest.json"
    listed = orjson.loads(earlier.read_bytes())["files"] if earlier.exists() else {}
    for name, rows in files.items():
        listed[name] = {"rows": rows, "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}
    return {"month": month.strftime("%Y-%m"), "files": dict(sorted(listed.items()))}
