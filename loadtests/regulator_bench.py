"""Regulator queries at scale: the same queries against 1,000,000 charges and against a 10× smaller history, in
the same run on the same server, to show that a query's cost follows its result and not the table.

    .venv/bin/pishkhan dev exec -- .venv/bin/python -m loadtests.regulator_bench [--charges 1000000] [--explain]

Two databases of their own on DATABASE_URL's server (dropped at the end) get the schema and the same generated
history at the same density, ending now: 1,000 offices (one of them, the busy office, with a fifth of everything),
N completed charges over DAYS days (one in a hundred a second charge of the same recipient and service minutes
later: split charging), N/10 refusals and N/10 findings; the small one covers a tenth of the days. Queries that
look at the same recent stretch therefore have the same result in both, and only the table size differs.
Generation is not timed. Each query runs once (reported as `first`), then REPEAT times; the median is reported.
The console's pages are measured too (the overview and the offices list from the day totals, an office's page);
`--charges 10000000` is the ten-million-charge measurement of docs/oversight.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.core.jalali import tehran_date, tehran_day
from gateway.core.periods import HalfYear
from gateway.core.registry import Office
from gateway.core.tariffs import TariffBook
from gateway.oversight import office_records, overview, store
from gateway.oversight.catalog import REFUSAL_TYPES
from gateway.oversight.detection import detect_range
from gateway.oversight.penalty_rules import load_penalty_rules
from gateway.oversight.scorecard import office_scorecard
from gateway.platform.config import Settings
from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from gateway.platform.partitions import ensure_partitions
from gateway.registry.tariff_files import load_tariff_documents

OFFICES = 1_000
BUSY_OFFICE = "70000000"
DAYS_LARGE = 800
REPEAT = 9
WINDOW = timedelta(minutes=30)
PROVINCES = ["تهران", "اصفهان", "فارس", "گیلان", "خراسان رضوی", "آذربایجان شرقی", "خوزستان", "قم", "البرز", "کرمان"]

# Row i of a table of n rows over `days` days ending at $end: every fifth row is the busy office's.
_OFFICE_OF = "CASE WHEN {i} % 5 = 0 THEN '70000000' ELSE (70000000 + 1 + {i} % 999)::text END"
_TIME_OF = "$1::timestamptz - make_interval(secs => ($3::float8 * 86400) * ({i}::float8 / $2))"

_OFFICES = """
INSERT INTO offices (id, name, kind, licence_holder, licence_number, licence_valid_from, licence_valid_to, status,
                     address, province, city, city_class, iban, sms_line)
SELECT (70000000 + n)::text, 'دفتر ' || n, 'counter', 'دارنده ' || n, 'پ-' || n, '2020-01-01', '2030-01-01',
       'active', 'نشانی ' || n, ($2::text[])[1 + n % 10], 'شهر', 'metropolis', 'IR090150161461003307666193', '4040'
FROM generate_series(0, $1 - 1) AS n
"""

# One charge in a hundred (i % 100 = 50) repeats the previous row's office and recipient five minutes later.
_CHARGES = f"""
INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity, extras,
                     recipient_name, recipient_national_code, recipient_mobile, amount, breakdown, tariff_reference,
                     settlement_rows, status, verify_deadline, created_at, completed_at, finalized_at)
SELECT uuidv7(t - now()), {_OFFICE_OF.format(i="j")}, '10000001', '000000110000001', 'psp-mellat',
       'op-' || (j % 3), '1101', 1, '[]', 'بنچ', lpad(((j::bigint * 7919) % 10000000000)::text, 10, '0'),
       '09120000000', CASE WHEN i = j THEN 700000 ELSE 400000 END, '{{}}', 'CRA-COM-1402-07', '[]', 'completed', t,
       t, t + interval '20 s', t + interval '20 s'
FROM generate_series(0, $2 - 1) AS i,
     LATERAL (SELECT CASE WHEN i % 100 = 50 THEN i - 1 ELSE i END AS j) AS pair,
     LATERAL (SELECT {_TIME_OF.format(i="j")} + CASE WHEN i = j THEN interval '0' ELSE interval '5 min' END AS t) AS at
"""

_REFUSALS = f"""
INSERT INTO refusals (office_id, terminal_id, operator_id, service_code, reason, requested, cap, excess,
                      payment_method, recipient_national_code, tariff_reference, created_at)
SELECT {_OFFICE_OF.format(i="i")}, '10000001', 'op-' || (i % 3), '1101', 'excess_fee', 800000, 700000, 100000,
       'card', '0012345679', 'CRA-COM-1402-07', {_TIME_OF.format(i="i")}
FROM generate_series(0, $2 - 1) AS i
"""

_VIOLATIONS = f"""
INSERT INTO violations (office_id, type, evidence_key, evidence, occurred_at, terminal_id, operator_id, service_code,
                        amount, excess)
SELECT {_OFFICE_OF.format(i="i")}, ($4::text[])[1 + i % 6], 'bench:' || i, jsonb_build_object('bench', i),
       {_TIME_OF.format(i="i")}, '10000001', 'op-' || (i % 3), '1101', 800000, 100000
FROM generate_series(0, $2 - 1) AS i
"""
TYPES = ["excess_fee", "cash_payment", "unlicensed_psp", "inactive_licence", "split_charging", "offbook_transaction"]


async def _fill(conn: asyncpg.Connection, end: datetime, charges: int, days: int) -> None:
    await conn.execute("SET synchronous_commit = off")
    # The month partitions of the whole history (charge ids are UUIDv7 of their time, as the gateway makes them).
    await ensure_partitions(conn, end - timedelta(days=days), months_ahead=days // 28 + 1)
    await conn.execute(_OFFICES, OFFICES, PROVINCES)
    await conn.execute(_CHARGES, end, charges, days)
    await conn.execute(_REFUSALS, end, charges // 10, days)
    await conn.execute(_VIOLATIONS, end, charges // 10, days, TYPES)
    await conn.execute("VACUUM ANALYZE")


async def _database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    await apply_migrations(url)
    return url


async def _timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    started = time.perf_counter()
    rows = await run()
    return (time.perf_counter() - started) * 1000, rows


async def _measure(run: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    """The first run's time (detection records its findings then), the median of the repeats, and the rows."""
    first_ms, _rows = await _timed(run)
    repeats = [await _timed(run) for _ in range(REPEAT)]
    return first_ms, statistics.median(ms for ms, _ in repeats), repeats[-1][1]


async def _export(conn, query: store.Query) -> int:
    """Every row, as a CSV export reads them; returns how many."""
    rows = 0
    async for _ in store.stream(conn, query):
        rows += 1
    return rows


def _queries(conn, end: datetime, tariffs: TariffBook, busy: Office, rules) -> dict[str, Callable]:
    def last(days: float) -> datetime:
        return end - timedelta(days=days)

    async def page(query: store.Query) -> int:
        return len(await store.fetch(conn, query))

    def violations(where: store.FindingFilter, limit: int | None = None) -> store.Query:
        return store.violations_query(where, None, limit)

    def summary(where: store.FindingFilter, limit: int | None = None) -> store.Query:
        return store.excess_fee_summary_query(where, None, limit)

    async def scorecard() -> int:
        card = await office_scorecard(conn, busy, HalfYear.containing(end), rules, now=end)
        return card["negative_indicators"]

    async def detect(days: float) -> int:
        return sum((await detect_range(conn, tariffs, WINDOW, last(days), end)).values())

    busy_only = [BUSY_OFFICE]
    queries: dict[str, Callable] = {
        "violations, first page of 100, no filter": lambda: page(violations(store.FindingFilter(), 100)),
        "violations, first page of 100, busy office, 30 days": lambda: page(
            violations(store.FindingFilter(since=last(30), office_ids=busy_only), 100)
        ),
    }
    for days in (1, 7, 30, 80):
        queries[f"violations export, busy office, {days} d"] = lambda d=days: _export(
            conn, violations(store.FindingFilter(since=last(d), office_ids=busy_only))
        )
    for days in (1, 7, 30, 80):
        queries[f"violations export, all offices, {days} d"] = lambda d=days: _export(
            conn, violations(store.FindingFilter(since=last(d)))
        )
    queries["violations export, one province, 7 d"] = lambda: _export(
        conn,
        violations(
            store.FindingFilter(since=last(7), office_ids=[f"{70000000 + n}" for n in range(OFFICES) if n % 10 == 3])
        ),
    )
    for days in (1, 7, 30):
        queries[f"excess-fees summary, first page of 100, all offices, {days} d"] = lambda d=days: page(
            summary(store.FindingFilter(since=last(d)), 100)
        )
    queries["excess-fees summary, busy office, 30 d"] = lambda: _export(
        conn, summary(store.FindingFilter(since=last(30), office_ids=busy_only))
    )
    queries["scorecard, busy office, current period"] = scorecard
    queries["console overview, national, current six-month period"] = lambda: console_overview(conn, end)
    queries["console offices list, national, current six-month period"] = lambda: console_offices(conn, end)
    queries["console office page, busy office, today"] = lambda: console_office_page(conn, end, busy, rules)
    queries["detection, last hour (first run records, repeats find nothing new)"] = lambda: detect(1 / 24)
    queries["detection, last day (first run records, repeats find nothing new)"] = lambda: detect(1)
    return queries


ALL_OFFICES = [f"{70000000 + n}" for n in range(OFFICES)]


def _tehran_days(end: datetime) -> tuple[date, date, datetime, datetime]:
    """The current six-month period up to today, as the console's overview asks for it by default."""
    period = HalfYear.containing(end)
    today = tehran_date(end)
    return period.first_day.togregorian(), today, period.starts_at, tehran_day(today).end


async def console_overview(conn, end: datetime) -> int:
    first, last, since, until = _tehran_days(end)
    summary = await overview.overview(conn, ALL_OFFICES, first, last, since, until)
    return summary.total.findings


async def console_offices(conn, end: datetime) -> int:
    first, last, _since, _until = _tehran_days(end)
    return len(await overview.findings_per_office(conn, ALL_OFFICES, first, last))


async def console_office_page(conn, end: datetime, busy: Office, rules) -> int:
    """What /console/offices/{busy office} reads: today's charges and refusals (a page of 500 each), the scorecard
    and the period's findings (200)."""
    day = tehran_day(tehran_date(end))
    period = HalfYear.containing(end)
    rows = len(await store.fetch(conn, office_records.charges_query(busy.id, day.start, day.end, None, 500)))
    rows += len(await store.fetch(conn, office_records.refusals_query(busy.id, day.start, day.end, None, 500)))
    await office_scorecard(conn, busy, period, rules, now=end)
    where = store.FindingFilter(since=period.starts_at, until=period.ends_before, office_ids=[busy.id])
    return rows + len(await store.fetch(conn, store.violations_query(where, None, 200)))


async def _explain(conn, end: datetime) -> None:
    since = end - timedelta(days=7)
    periods = [HalfYear.containing(end - timedelta(days=DAYS_LARGE))]
    while periods[-1] < HalfYear.containing(end):
        periods.append(periods[-1].next())
    statements = {
        "violations page, busy office": (
            "SELECT id FROM violations WHERE office_id = ANY($1::text[]) AND occurred_at >= $2 "
            "ORDER BY office_id, occurred_at, id LIMIT 101",
            [BUSY_OFFICE],
            since,
        ),
        "violations page, all offices, seven days": (
            "SELECT id FROM violations WHERE occurred_at >= $1 ORDER BY office_id, occurred_at, id LIMIT 101",
            since,
        ),
        "excess-fees summary page, all offices": (
            "SELECT office_id, coalesce(operator_id, ''), coalesce(service_code, ''), count(*) FROM violations "
            "WHERE occurred_at >= $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT 101",
            since,
        ),
        "violations page, all offices, one day (range, then sort)": (
            "SELECT id FROM violations WHERE occurred_at >= $1 ORDER BY office_id, occurred_at, id LIMIT 101",
            end - timedelta(days=1),
        ),
        "refusal findings, last hour (detection)": (
            store.INSERT_REFUSAL_FINDINGS,
            end - timedelta(hours=1),
            end,
            list(REFUSAL_TYPES),
            [t.code for t in REFUSAL_TYPES.values()],
        ),
        "split-charging candidates, last hour": (store.SPLIT_CANDIDATES, end - timedelta(hours=1), end, WINDOW),
        "scorecard: which earlier periods had findings of each type": (
            store.BREACHED_PERIODS,
            BUSY_OFFICE,
            [p.starts_at for p in periods],
            [p.ends_before for p in periods],
            TYPES,
        ),
    }
    for title, (sql, *args) in statements.items():
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF, BUFFERS OFF) {sql}", *args)
        print(f"\n-- {title}\n" + "\n".join(row[0] for row in plan))


async def main(charges: int, explain: bool) -> int:
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        sys.exit("DATABASE_URL is not set: run under `pishkhan dev exec --`")
    settings = Settings()
    tariffs = TariffBook.from_documents(load_tariff_documents(settings.tariff_dir))
    rules = load_penalty_rules(settings.penalty_rules_path)
    end = datetime.now(UTC).replace(microsecond=0)
    sizes = {"large": (charges, DAYS_LARGE), "small": (charges // 10, DAYS_LARGE // 10)}
    names = {label: f"pishkhan_regbench_{label}_{uuid.uuid4().hex[:8]}" for label in sizes}
    results: dict[str, dict[str, tuple[float, float, int]]] = {}
    admin = await asyncpg.connect(server_url)
    try:
        for label, (count, days) in sizes.items():
            conn = await connect(await _database(server_url, names[label]))
            try:
                started = time.perf_counter()
                await _fill(conn, end, count, days)
                print(
                    f"{label}: {count:,} charges, {count // 10:,} refusals, {count // 10:,} findings over {days} "
                    f"days generated in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                busy = Office(
                    BUSY_OFFICE,
                    "دفتر ۰",
                    "counter",
                    "",
                    "",
                    date(2020, 1, 1),
                    date(2030, 1, 1),
                    "active",
                    "",
                    PROVINCES[0],
                    "",
                    "metropolis",
                    "",
                    "",
                    frozenset(),
                )
                results[label] = {}
                for title, run in _queries(conn, end, tariffs, busy, rules).items():
                    results[label][title] = await _measure(run)
                if explain and label == "large":
                    await _explain(conn, end)
            finally:
                await conn.close()
    finally:
        for name in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(
        f"\n| query | result rows | {charges:,} charges: median (first) ms | "
        f"{charges // 10:,} charges: median (first) ms | ratio of medians |"
    )
    print("|---|---:|---:|---:|---:|")
    for title, (large_first, large_ms, rows) in results["large"].items():
        small_first, small_ms, small_rows = results["small"][title]
        shown = f"{rows:,}" if rows == small_rows else f"{rows:,} / {small_rows:,}"
        print(
            f"| {title} | {shown} | {large_ms:.1f} ({large_first:.1f}) | {small_ms:.1f} ({small_first:.1f}) | "
            f"{large_ms / small_ms:.2f} |"
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true", help="print the plans of the main queries (large)")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.charges, arguments.explain)))
