"""`pishkhan serve` and `pishkhan migrate`."""

from __future__ import annotations

import argparse
import asyncio

from gateway.cli.common import database_url
from gateway.platform.config import load_settings


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.web.server import serve

    settings = load_settings()
    serve(settings, workers=args.workers or settings.workers)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.platform.migrate import apply_migrations

    applied = asyncio.run(apply_migrations(database_url()))
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the gateway (and its workers unless PISHKHAN_RUN_WORKERS=0)")
    serve.add_argument("--workers", type=int, default=0, help="processes sharing the port (SO_REUSEPORT)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply schema migrations (idempotent)").set_defaults(func=cmd_migrate)
