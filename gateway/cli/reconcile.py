"""`pishkhan reconcile import FILE` and `pishkhan reconcile report --date`: the operator's side of reconciliation."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.cli.common import database_url
from gateway.core.jalali import parse_day
from gateway.platform.csv_text import csv_text
from gateway.platform.db import connect
from gateway.reconciliation.importer import import_psp_file
from gateway.reconciliation.reconcile import day_report, day_rows
from gateway.reconciliation.report import ROW_COLUMNS
from psp_adapters.daily_files import FileKind, FileRejected

_CHUNK = 1024 * 1024
_CSV_BATCH = 1000


async def _connect():
    return await connect(database_url())


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            yield chunk


def cmd_import(args) -> int:
    async def run() -> int:
        conn = await _connect()
        try:
            imported = await import_psp_file(
                conn,
                _chunks(Path(args.file)),
                psp_id=args.psp,
                expected_kind=FileKind(args.kind) if args.kind else None,
                source=Path(args.file).name,
                imported_by="cli",
            )
        except FileRejected as rejected:
            print(f"{args.file}: nothing was imported: {rejected}", file=sys.stderr)
            return 1
        finally:
            await conn.close()
        print(json.dumps(imported.view(), ensure_ascii=False))
        return 0

    return asyncio.run(run())


def cmd_report(args) -> int:
    try:
        day = parse_day(args.date)
    except ValueError as error:
        sys.exit(str(error))

    async def run() -> None:
        conn = await _connect()
        try:
            if args.format == "json":
                print(json.dumps(await day_report(conn, day, args.psp, args.limit), ensure_ascii=False, indent=2))
                return
            sys.stdout.write(csv_text(ROW_COLUMNS, [], header=True))
            async with conn.transaction():
                batch = []
                async for row in day_rows(conn, day, args.psp):
                    batch.append(row)
                    if len(batch) == _CSV_BATCH:
                        sys.stdout.write(csv_text(ROW_COLUMNS, batch))
                        batch.clear()
                sys.stdout.write(csv_text(ROW_COLUMNS, batch))
        finally:
            await conn.close()

    asyncio.run(run())
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    reconcile = sub.add_parser(
        "reconcile", help="import PSP daily files and report a day's reconciliation"
    ).add_subparsers(dest="action", required=True)
    imported = reconcile.add_parser("import", help="import a PSP settlement file or terminal feed (CSV)")
    imported.add_argument("file")
    imported.add_argument("--psp", help="the PSP the file comes from (default: the one its first line names)")
    imported.add_argument(
        "--kind",
        choices=[kind.value for kind in FileKind],
        help="refuse the file unless it is of this kind (default: what its header says)",
    )
    imported.set_defaults(func=cmd_import)
    report = reconcile.add_parser("report", help="a day's reconciliation: JSON summary or every row as CSV")
    report.add_argument("--date", required=True, help="a day in Asia/Tehran, YYYY-MM-DD")
    report.add_argument("--psp", help="only this PSP")
    report.add_argument("--format", choices=["json", "csv"], default="json")
    report.add_argument("--limit", type=int, default=100, help="unmatched rows listed in the JSON summary")
    report.set_defaults(func=cmd_report)
