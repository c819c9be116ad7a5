"""`pishkhan oversight detect`: one detection pass (cron, or after a PSP feed import); `sign-access-log` and
`verify-access-log`: the regulator access log's chain."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from gateway.cli.common import connection, database_url, instant, public_keys
from gateway.core.clock import system_clock
from gateway.oversight.access_log import sign_head, verify_access_log
from gateway.oversight.command import DetectionBusy, detect_once
from gateway.platform.config import load_settings
from receipts.keys_files import load_keyring


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


def cmd_sign_access_log(args: argparse.Namespace) -> int:
    async def sign() -> dict | None:
        async with connection() as conn:
            return await sign_head(conn, load_keyring(load_settings().key_dir), system_clock)

    head = asyncio.run(sign())
    if head is None:
        sys.exit("the access log is empty: there is no head to sign")
    print(json.dumps(head, ensure_ascii=False))
    return 0


def _read_json(path: str) -> object:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def cmd_verify_access_log(args: argparse.Namespace) -> int:
    keys = public_keys(args.keys)
    kept: list = []
    for path in args.heads or ():
        answer = _read_json(path)
        kept.extend(answer["data"] if isinstance(answer, dict) and "data" in answer else [answer])

    async def verify():
        async with connection() as conn:
            return await verify_access_log(conn, keys, kept, kept_source="kept signed head")

    report = asyncio.run(verify())
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    if report.first_break is not None:
        found = report.first_break
        print(f"first break: {found.kind.value} at entry {found.seq}: {found.detail}", file=sys.stderr)
    return 0 if report.ok else 1


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

    sign = oversight.add_parser("sign-access-log", help="sign the regulator access log's current head now")
    sign.set_defaults(func=cmd_sign_access_log)

    verify = oversight.add_parser(
        "verify-access-log",
        help="check the whole regulator access log chain against its signed heads; names the first break",
    )
    verify.add_argument(
        "--heads",
        action="append",
        metavar="FILE",
        help="signed heads kept by the regulator (GET /v1/regulator/access-log/heads answers, or one head); repeatable",
    )
    verify.add_argument("--keys", help="GET /v1/keys answer saved to a file (default: the configured key directory)")
    verify.set_defaults(func=cmd_verify_access_log)
