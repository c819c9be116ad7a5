"""`pishkhan`: the one command line of the gateway, one module per command group."""

from __future__ import annotations

import argparse
import logging

from gateway.cli import (
    conservation,
    dev,
    keys,
    outbox,
    oversight,
    partitions,
    receipts,
    reconcile,
    registry,
    serve,
    tariffs,
    users,
)
from gateway.cli.common import use_running_dev_stack
from gateway.platform.config import load_settings
from gateway.platform.log_redaction import install_log_redaction

COMMAND_GROUPS = (
    serve,
    registry,
    tariffs,
    keys,
    outbox,
    oversight,
    dev,
    receipts,
    reconcile,
    conservation,
    users,
    partitions,
)
# These start servers and simulators of their own (or take them from the environment as given).
_STACK_STARTERS = ("dev", "sim")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pishkhan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=load_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_log_redaction()
    args = build_parser().parse_args(argv)
    if args.command not in _STACK_STARTERS:
        use_running_dev_stack()
    result: int = args.func(args)
    return result
