"""`pishkhan sim ...` and `pishkhan dev run | exec`: the simulators and the local stack.

Both live in the top-level `simulators` package, which production code never imports: these commands load it by
name when they run, and say so when it is not installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

SIMULATORS = ("psp", "sms", "poosheh", "civil-registry", "shahkar")


def _simulators_cli() -> ModuleType:
    try:
        return importlib.import_module("simulators.cli")
    except ModuleNotFoundError:
        sys.exit(
            "the simulators package is not installed here: `pishkhan sim` and `pishkhan dev` are for "
            "development machines (make run, make test)"
        )


def cmd_sim(args: argparse.Namespace) -> int:
    return _simulators_cli().run_simulator(args.kind, args.rest)


def cmd_dev(args: argparse.Namespace) -> int:
    return _simulators_cli().run_dev(args.action, args.rest)


def add_commands(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser(
        "sim", help="start a simulator: psp (terminals and PSP host), sms, poosheh, civil-registry, shahkar"
    )
    sim.add_argument("kind", choices=SIMULATORS)
    sim.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's own options (--help)")
    sim.set_defaults(func=cmd_sim)
    dev = sub.add_parser("dev", help="run the whole stack locally (make run), or a command beside it (make test)")
    dev.add_argument("action", choices=["run", "exec"])
    dev.add_argument("rest", nargs=argparse.REMAINDER)
    dev.set_defaults(func=cmd_dev)
