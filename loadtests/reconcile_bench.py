"""Reconciliation at scale: imports and matches a generated PSP settlement file of N rows (default 1,000,000),
against a raw COPY of the same file into a plain table, measured in the same run on the same server.

    .venv/bin/pishkhan dev exec -- .venv/bin/python -m loadtests.reconcile_bench [--rows 1000000]

It works in a database of its own on DATABASE_URL's server (dropped at the end): the schema, the demo registry,
N/2 completed charges on each of three Tehran days on psp-mellat's terminals (each with an agency and an office
settlement row), and the PSP's file of each of the first two days written from them with discrepancies injected (one
agency row in 1,000 short by 1 rial, one charge in 5,000 left out). The day measured is the second, as a deployment
reconciles it once the day after is over: the first day's file is imported and vacuumed before anything is timed, so
the day's import looks for repeats among its rows and the day's report reads PSP rows of both days; and the day
after's charges are stored, as they are for a report made once that day is over. Nothing of this is timed. Timed,
each alone, for the second day:

    raw COPY   COPY of the file into a table of the same typed columns, no checks (the median of three)
    import     the importer: lines checked as they stream in, COPYed into psp_settlement_rows, digest recorded
    match      the day's reconciliation report (pairing, classification, totals, listed discrepancies)

and reports import + match as a ratio of the raw COPY's rate, with the verdict on the target (>= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.core.jalali import tehran_day
from gateway.core.registry import parse_registry
from gateway.platform.config import PROJECT_ROOT
from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from gateway.reconciliation.importer import import_psp_file
from gateway.reconciliation.reconcile import day_report
from gateway.registry.store import save_registry

DAY = date(2025, 3, 4)
PSP = "psp-mellat"
# Importing and matching a file should run at least at half the rate of merely COPYing it into a table.
TARGET_RATIO = 0.5
# Settlement rows of the day measured by a full-size run (`--rows`; `make bench --reconcile-rows`).
FULL_ROWS = 1_000_000
SHORT_PAID_EVERY = 1_000
LEFT_OUT_EVERY = 5_000
# The raw COPY, the baseline, is timed this many times and its median taken: single COPYs of the same file varied
# by a third within minutes on the shared machine.
RAW_COPIES = 3

# N/2 completed charges spread over the day, round-robin over the PSP's terminals and three agencies' services;
# RRNs, STANs and tracking codes counted from $5, so that each day's charges have references of their own.
_CHARGES = """
WITH terminal AS (
    SELECT row_number() OVER (ORDER BY t.terminal_id) - 1 AS n, t.terminal_id, t.merchant_id, t.office_id, o.iban
    FROM terminals t JOIN offices o ON o.id = t.office_id WHERE t.psp_id = $1
), service AS (
    SELECT row_number() OVER (ORDER BY s.code) - 1 AS n, s.code, a.iban, a.payment_id
    FROM services s JOIN agencies a ON a.id = s.agency_id WHERE s.code IN ('1101', '2101', '3101')
)
INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity, extras,
                     recipient_name, recipient_national_code, recipient_mobile, amount, breakdown, tariff_reference,
                     settlement_rows, status, stan, rrn, masked_pan, tracking_code, verify_deadline, created_at,
                     authorized_at, verified_at, completed_at)
SELECT gen_random_uuid(), t.office_id, t.terminal_id, t.merchant_id, $1, 'op-bench', s.code, 1, '[]', 'بنچ',
       '0012345679', '09120000000', 700000 + (i % 7) * 1000,
       jsonb_build_object('government_share', 500000 + (i % 7) * 1000, 'office_fee', 200000), 'BENCH',
       jsonb_build_array(jsonb_build_object('iban', s.iban, 'amount', 500000 + (i % 7) * 1000,
                                            'payment_id', s.payment_id),
                         jsonb_build_object('iban', t.iban, 'amount', 200000, 'payment_id', '0')),
       'completed', lpad(((i + $5) % 999999 + 1)::text, 6, '0'), lpad((i + $5)::text, 12, '0'), '603799******0011',
       lpad((i + $5)::text, 18, '0'), at + interval '20 minutes', at, at, at, at + interval '2 seconds'
FROM generate_series(1, $2::integer) AS i
CROSS JOIN LATERAL (SELECT $3::timestamptz + (i - 1) * ($4::interval / $2::integer) AS at) moment
JOIN terminal t ON t.n = i % (SELECT count(*) FROM terminal)
JOIN service s ON s.n = i % 3
"""
# The PSP's file of a day, as the format of docs/reconciliation.md has it.
_PSP_FILE = f"""
SELECT c.psp_id, ($1::date + 1)::text AS settlement_date, r.iban,
       CASE WHEN r.payment_id <> '0' AND c.rrn::bigint % {SHORT_PAID_EVERY} = 0 THEN r.amount - 1
            ELSE r.amount END AS amount,
       r.payment_id, c.rrn, c.stan, c.terminal_id,
       to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS transaction_time,
       c.id::text AS reference
FROM charges c CROSS JOIN LATERAL jsonb_to_recordset(c.settlement_rows) AS r(iban text, amount bigint,
                                                                           payment_id text)
WHERE c.rrn::bigint % {LEFT_OUT_EVERY} <> 0 AND c.created_at >= $2 AND c.created_at < $3
ORDER BY c.completed_at, r.payment_id DESC
"""
_RAW_TABLE = """CREATE TABLE raw_settlement (psp_id text, settlement_date date, iban text, amount bigint,
    payment_id text, rrn text, stan text, terminal_id text, transaction_time timestamptz, reference text)"""


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            yield chunk


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>12,.0f} rows/s  ({seconds:6.2f} s)"


async def _prepare(url: str, rows: int, directory: Path) -> Path:
    """Fills the database with three days' charges and writes the first two days' files; imports the day before's.
    Returns the day's file."""
    await apply_migrations(url)
    conn = await connect(url)
    try:
        registry_path = PROJECT_ROOT / "gateway" / "registry" / "demo.toml"
        await save_registry(
            conn, parse_registry(tomllib.loads(registry_path.read_text(encoding="utf-8"))), str(registry_path)
        )
        started = time.perf_counter()
        paths = []
        for number, day in enumerate((DAY - timedelta(days=1), DAY, DAY + timedelta(days=1))):
            hours = tehran_day(day)
            await conn.execute(_CHARGES, PSP, rows // 2, hours.start, hours.end - hours.start, number * rows)
            if day <= DAY:
                paths.append(directory / f"{PSP}-{day.isoformat()}-settlement.csv")
                await conn.copy_from_query(
                    _PSP_FILE, day, hours.start, hours.end, output=str(paths[-1]), format="csv", header=True
                )
        await conn.execute("VACUUM ANALYZE charges")
        day_before, path = paths
        await import_psp_file(
            conn, _chunks(day_before), psp_id=PSP, expected_kind=None, source=day_before.name, imported_by="bench"
        )
        await conn.execute("VACUUM ANALYZE psp_settlement_rows")
        print(
            f"prepared {3 * (rows // 2):,} charges of three days, two days' PSP files "
            f"({path.stat().st_size / 1e6:,.0f} MB each) and the first day's import in "
            f"{time.perf_counter() - started:.1f} s"
        )
        return path
    finally:
        await conn.close()


async def _measure(url: str, path: Path, requested_rows: int) -> dict:
    conn = await connect(url)
    try:
        await conn.execute(_RAW_TABLE)
        raw_runs = []
        for _ in range(RAW_COPIES):
            await conn.execute("TRUNCATE raw_settlement")
            started = time.perf_counter()
            copied = await conn.copy_to_table("raw_settlement", source=str(path), format="csv", header=True)
            raw_runs.append(time.perf_counter() - started)
        rows = int(copied.split()[-1])

        started = time.perf_counter()
        imported = await import_psp_file(
            conn, _chunks(path), psp_id=PSP, expected_kind=None, source=path.name, imported_by="bench"
        )
        import_seconds = time.perf_counter() - started
        assert imported.created and imported.rows == rows

        started = time.perf_counter()
        report = await day_report(conn, tehran_day(DAY), PSP, limit=100)
        match_seconds = time.perf_counter() - started
    finally:
        await conn.close()
    raw_seconds = statistics.median(raw_runs)
    ratio = raw_seconds / (import_seconds + match_seconds)
    return {
        "requested_rows": requested_rows,
        "file_rows": rows,
        "report_rows": report["totals"]["rows"],
        "report_rows_by_kind": {kind: b["rows"] for kind, b in report["totals"]["by_kind"].items() if b["rows"]},
        "raw_copy_s": round(raw_seconds, 3),
        "raw_copy_runs_s": [round(seconds, 3) for seconds in raw_runs],
        "import_s": round(import_seconds, 3),
        "match_s": round(match_seconds, 3),
        "ratio": round(ratio, 3),
        "met": ratio >= TARGET_RATIO,
    }


async def measure(server_url: str, rows: int) -> dict:
    """The figures of one run, in a database of its own on `server_url`'s server (dropped at the end)."""
    name = f"pishkhan_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        with tempfile.TemporaryDirectory() as directory:
            return await _measure(url, await _prepare(url, rows, Path(directory)), rows)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def _print(figures: dict) -> None:
    rows = figures["file_rows"]
    runs = ", ".join(f"{seconds:.2f}" for seconds in figures["raw_copy_runs_s"])
    print(f"file rows: {rows:,}; report rows by kind: {figures['report_rows_by_kind']}")
    print(f"raw COPY          {_rate(rows, figures['raw_copy_s'])}  (median of {runs} s)")
    print(f"import            {_rate(rows, figures['import_s'])}")
    print(f"match (report)    {_rate(figures['report_rows'], figures['match_s'])}")
    both = figures["import_s"] + figures["match_s"]
    print(f"import + match    {_rate(rows, both)}  = {figures['ratio']:.2f} x raw COPY's rate")
    verdict = "met" if figures["met"] else "not met"
    print(f"target: import + match >= {TARGET_RATIO} x raw COPY's rate, measured in the same run: {verdict}")


async def main(rows: int) -> None:
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        sys.exit("DATABASE_URL is not set: run under `pishkhan dev exec --`")
    _print(await measure(server_url, rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="settlement rows in the PSP's file")
    asyncio.run(main(parser.parse_args().rows))
