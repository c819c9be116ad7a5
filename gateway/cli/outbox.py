"""`pishkhan outbox run`: the message dispatcher and delivery-report poller on their own."""

from __future__ import annotations

import argparse
import asyncio

from gateway.cli.common import database_url
from gateway.messaging.outbox import run_outbox_process
from gateway.platform.config import load_settings


def cmd_run(args: argparse.Namespace) -> int:
    database_url()
    asyncio.run(run_outbox_process(load_settings(), until_idle=args.until_idle))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    outbox = sub.add_parser("outbox", help="deliver the outbox (SMS, Iran Poosheh)").add_subparsers(
        dest="action", required=True
    )
    run = outbox.add_parser("run", help="run the dispatcher and the delivery-report poller on their own")
    run.add_argument("--until-idle", action="store_true", help="only send, and exit once no message waits to be sent")
    run.set_defaults(func=cmd_run)
