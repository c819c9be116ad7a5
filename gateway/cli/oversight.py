"""`pishkhan oversight detect`: one detection pass (cron, or after a PSP feed import)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from gateway.cli.common import database_url, instant
from gateway.oversight.command import DetectionBusy, detect_once
from gateway.platform.config import load_settings


def cmd_detect(args: argparse.Namespace) -> int:
    database_url()
    since = instant(args.since) if args.since else None
    until = instant(args.until) if args.until else None
    try:
        report = asyncio.run(detect_once(load_settings(), since, until))
    except DetectionBusy as busy:
        sys.exit(str(busy))
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    oversight = sub.add_parser("oversight", help="regulator oversight").add_subparsers(dest="action", required=True)
    detect = oversight.add_parser(
        "detect",
        help="record findings (violations) from refusals, split charging and "
        "off-book terminal activity; prints the new findings as JSON",
    )
    detect.add_argument("--since", help="RFC 3339 start of the range to scan (default: where the last pass ended)")
    detect.add_argument("--until", help="RFC 3339 end of the range to scan (default: now)")
    detect.set_defaults(func=cmd_detect)
