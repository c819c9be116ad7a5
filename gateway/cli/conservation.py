"""`pishkhan check-conservation`: the PSPs' ledgers or transaction files against the gateway's records."""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp
import orjson

from gateway.cli.common import connection, database_url
from gateway.conservation.check import Report, check, gather_ledgers, parse_since
from gateway.platform.config import load_settings


async def _report(args: argparse.Namespace) -> Report:
    async with connection() as db:

        async def ledgers():
            return await gather_ledgers(
                db, args.psp_control or [], args.transactions, load_settings().psp_endpoint_overrides()
            )

        return await check(db, ledgers, parse_since(args.since) if args.since else None)


def cmd_check(args: argparse.Namespace) -> int:
    """0 when clean (charges in flight are counted apart, not as differences), 1 with differences, 2 when a ledger,
    a transaction file or the database could not be read (or an option is malformed)."""
    database_url()
    try:
        report = asyncio.run(_report(args))
    except (aiohttp.ClientError, OSError, ValueError) as error:
        print(f"check-conservation: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode() if args.json else report.text())
    return 0 if report.clean else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    check_ = sub.add_parser(
        "check-conservation",
        help="compare the PSPs' ledgers with the gateway's charges (exit 0 when every amount is accounted for)",
    )
    check_.add_argument(
        "--psp-control",
        action="append",
        metavar="PSP_ID=URL",
        help="a simulator control API (repeatable; default PISHKHAN_PSP_CONTROL, else each "
        "registry PSP's ISO port + 1)",
    )
    check_.add_argument(
        "--transactions",
        action="append",
        default=[],
        metavar="[PSP_ID=]FILE",
        help="a PSP transaction file of JSON lines, instead of or besides the control APIs",
    )
    check_.add_argument(
        "--since", metavar="MOMENT", help="only charges created at or after this ISO 8601 moment (UTC unless it says)"
    )
    check_.add_argument("--json", action="store_true", help="print the report as JSON")
    check_.set_defaults(func=cmd_check)
