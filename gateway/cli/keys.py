"""`pishkhan keys create | revoke | signing-create`: API keys, and receipt-signing keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

from gateway.access.store import create_api_key, revoke_api_key
from gateway.cli.common import connection
from gateway.core.text import normalize_persian
from gateway.platform.config import load_settings
from receipts.keys_files import create_key


def cmd_create(args: argparse.Namespace) -> int:
    if (args.role == "terminal") != bool(args.terminal_id) or (args.role == "agency") != bool(args.agency_id):
        sys.exit("--terminal-id goes with --role terminal, and --agency-id with --role agency")
    if args.province and args.role != "regulator":
        sys.exit("--province goes with --role regulator")

    async def create() -> str:
        async with connection() as conn:
            return await create_api_key(
                conn,
                role=args.role,
                terminal_id=args.terminal_id,
                agency_id=args.agency_id,
                label=args.label or "",
                require_signature=args.require_signature,
                province=normalize_persian(args.province).strip() if args.province else None,
            )

    token = asyncio.run(create())
    signed = " that must sign its requests (docs/security.md)" if args.require_signature else ""
    print(f"created a {args.role} key{signed}; it is shown once, store it now:")
    print(token)
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    async def revoke() -> bool:
        async with connection() as conn:
            return await revoke_api_key(conn, args.key_id)

    if not asyncio.run(revoke()):
        sys.exit(f"no active key {args.key_id}")
    print(f"revoked key {args.key_id}; every gateway refuses it from now on")
    return 0


def cmd_signing_create(args: argparse.Namespace) -> int:
    key_dir = Path(args.key_dir) if args.key_dir else load_settings().key_dir
    valid_from = datetime.fromisoformat(args.valid_from.replace("Z", "+00:00")) if args.valid_from else None
    key = create_key(key_dir, valid_from=valid_from)
    print(f"created receipt-signing key {key.key_id} in {key_dir}, valid from {key.valid_from.isoformat()}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="API keys and receipt-signing keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="issue an API key; the key alone is the last line printed")
    create.add_argument("--role", required=True, choices=["terminal", "agency", "regulator", "admin"])
    create.add_argument("--terminal-id")
    create.add_argument("--agency-id")
    create.add_argument("--label")
    create.add_argument("--province", help="a regulator key that sees only this province's offices")
    create.add_argument(
        "--require-signature",
        action="store_true",
        help="the key must sign every request (HMAC-SHA256) and never send its secret",
    )
    create.set_defaults(func=cmd_create)
    revoke = keys.add_parser("revoke", help="revoke an API key at once (KEY_ID is the part between pk_ and the dot)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_revoke)
    signing = keys.add_parser("signing-create", help="create a new receipt-signing key (rotation)")
    signing.add_argument("--key-dir")
    signing.add_argument(
        "--valid-from",
        help="RFC 3339 instant the key starts signing (default: now); running "
        "gateways pick the new key up without a restart",
    )
    signing.set_defaults(func=cmd_signing_create)
