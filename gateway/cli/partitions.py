"""`pishkhan partitions ensure | export-and-detach`: the monthly partitions of the growing tables
(docs/scaling.md, "Time-partitioned tables")."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.cli.common import connection
from gateway.core.clock import system_clock
from gateway.platform.config import load_settings
from gateway.platform.partitions import (
    STILL_LIVE,
    add_months,
    ensure_partitions,
    export_and_detach,
    month_start,
    months_before,
)


async def _ensure(months_ahead: int) -> list[str]:
    async with connection() as conn:
        return await ensure_partitions(conn, system_clock(), months_ahead)


def cmd_ensure(args: argparse.Namespace) -> int:
    created = asyncio.run(_ensure(args.months_ahead))
    print("\n".join(f"created {name}" for name in created) or "every partition already exists")
    return 0


async def _retire(older_than: int, output: Path, keep_detached: bool, dry_run: bool) -> None:
    cutoff = add_months(month_start(system_clock()), -older_than)
    async with connection() as conn:
        months = await months_before(conn, cutoff)
        if not months:
            print(f"no month ends before {cutoff:%Y-%m}: nothing to retire")
        for month, partitions in months.items():
            names = ", ".join(p.name for p in partitions)
            if dry_run:
                print(f"{month:%Y-%m}: would export and detach {names}")
                continue
            retired = await export_and_detach(conn, month, partitions, output, keep_detached=keep_detached)
            detached = ", ".join(p.name for p in partitions if p.name not in retired.kept)
            if detached:
                rows = sum(retired.files.values())
                print(
                    f"{month:%Y-%m}: {rows} rows in {len(retired.files)} files under {retired.folder}; "
                    f"detached {detached}"
                )
            for partition in partitions:
                if partition.name in retired.kept:
                    what = STILL_LIVE[partition.table][1]
                    print(f"{month:%Y-%m}: kept {partition.name}: {retired.kept[partition.name]} {what}")


def cmd_export_and_detach(args: argparse.Namespace) -> int:
    older_than = args.older_than if args.older_than is not None else load_settings().retention_months
    if older_than < 1:
        raise SystemExit("--older-than: at least 1 month (the current month is never retired)")
    asyncio.run(_retire(older_than, Path(args.output), args.keep_detached, args.dry_run))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    partitions = sub.add_parser("partitions", help="monthly partitions: create ahead, retire old").add_subparsers(
        dest="action", required=True
    )
    ensure = partitions.add_parser("ensure", help="create the partitions of this month and the next ones")
    ensure.add_argument(
        "--months-ahead",
        type=int,
        default=load_settings().partition_months_ahead,
        help="months after this one to create (default: PISHKHAN_PARTITION_MONTHS_AHEAD, 3)",
    )
    ensure.set_defaults(func=cmd_ensure)
    retire = partitions.add_parser(
        "export-and-detach",
        help="write whole months older than the retention to files (receipts as JSON lines that `pishkhan receipts "
        "verify` accepts), then detach and drop their partitions",
    )
    retire.add_argument("--output", required=True, help="folder to write into: one folder per month")
    retire.add_argument(
        "--older-than",
        type=int,
        metavar="MONTHS",
        help="retire months that ended at least this many months before this one "
        "(default: PISHKHAN_RETENTION_MONTHS, 60)",
    )
    retire.add_argument("--keep-detached", action="store_true", help="leave the detached partitions as plain tables")
    retire.add_argument("--dry-run", action="store_true", help="only name the months and partitions")
    retire.set_defaults(func=cmd_export_and_detach)
