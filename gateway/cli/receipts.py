"""`pishkhan receipts export | verify | verify-qr`: the auditor's tools. Verification needs only public keys."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import UTC, datetime

from gateway.cli.common import connection, public_keys
from gateway.receipt_book.store import issued_between
from receipts.audit import export_lines, read_lines, verify_chain
from receipts.qr import verify_qr_payload


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _fetch_receipts(office: str, start: datetime, end: datetime) -> list[dict]:
    async with connection() as conn:
        return await issued_between(conn, office, start, end)


def export(args) -> int:
    receipts = asyncio.run(_fetch_receipts(args.office, _moment(args.from_), _moment(args.to)))
    with open(args.output, "w", encoding="utf-8") if args.output else contextlib.nullcontext(sys.stdout) as out:
        out.writelines(export_lines(receipts))
    print(f"{len(receipts)} receipts of office {args.office} exported", file=sys.stderr)
    return 0


def verify(args) -> int:
    with open(args.file, encoding="utf-8") as lines:
        report = verify_chain(read_lines(lines), public_keys(args.keys))
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    if report.first_break:
        brk = report.first_break
        print(
            f"first break: {brk.kind.value} at receipt seq {brk.seq} ({brk.tracking_code}): {brk.detail}",
            file=sys.stderr,
        )
    return 0 if report.ok else 1


def verify_qr(args) -> int:
    result = verify_qr_payload(args.payload, public_keys(args.keys))
    content = result.content
    print(
        json.dumps(
            {
                "ok": result.ok,
                "signature": result.result.to_dict(),
                "content": None
                if content is None
                else {
                    "office_code": content.office_code,
                    "seq": content.seq,
                    "issued_at": content.issued_at.isoformat().replace("+00:00", "Z"),
                    "amount": content.amount,
                    "receipt_hash_prefix": content.receipt_hash_prefix,
                    "key_id": content.key_id,
                },
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0 if result.ok else 1


def add_commands(sub) -> None:
    receipts = sub.add_parser("receipts", help="export and verify receipts offline").add_subparsers(
        dest="action", required=True
    )
    exp = receipts.add_parser("export", help="an office's receipts as JSON lines, in chain order")
    exp.add_argument("--office", required=True)
    exp.add_argument("--from", dest="from_", required=True, help="RFC 3339 instant (inclusive)")
    exp.add_argument("--to", required=True, help="RFC 3339 instant (exclusive)")
    exp.add_argument("--output", help="file to write (default: standard output)")
    exp.set_defaults(func=export)
    ver = receipts.add_parser("verify", help="check every signature, link, sequence, time order and key validity")
    ver.add_argument("file")
    ver.add_argument("--keys", help="GET /v1/keys answer saved to a file (default: the configured key directory)")
    ver.set_defaults(func=verify)
    qr = receipts.add_parser("verify-qr", help="verify a scanned QR payload with the public keys alone")
    qr.add_argument("payload")
    qr.add_argument("--keys", help="GET /v1/keys answer saved to a file (default: the configured key directory)")
    qr.set_defaults(func=verify_qr)
