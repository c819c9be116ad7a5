"""The PSP host and terminal-fleet simulator, a separate process speaking ISO 8583 over TCP.

    python -m psp_adapters.simulators.psp_host --iso-port 0 --control-port 0 --psp-id psp-mellat

At startup it prints one JSON line with the ports it listens on, e.g. {"iso_port": 41234, "control_port": 41235},
and runs until SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

import uvloop
from aiohttp import web

from psp_adapters.iso8583_spec import DEFAULT_ALREADY_VERIFIED
from psp_adapters.simulators.cards import Deck
from psp_adapters.simulators.control_api import build_control_app
from psp_adapters.simulators.faults import FaultPlan
from psp_adapters.simulators.iso_host import PspHost
from psp_adapters.simulators.ledger import Ledger
from psp_adapters.simulators.terminals import TerminalFleet

log = logging.getLogger("psp_host")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="psp_host", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--iso-port", type=int, default=0, help="ISO 8583 port; 0 picks a free one")
    parser.add_argument("--control-port", type=int, default=0, help="control API port; 0 picks a free one")
    parser.add_argument("--psp-id", default="psp-sim")
    parser.add_argument("--pin-delay-ms", type=int, default=0, help="the cardholders' PIN-entry time")
    parser.add_argument("--verify-deadline-s", type=float, default=1200.0,
                        help="an approved purchase not verified by then is reversed by the host")
    parser.add_argument("--already-verified-code", default=DEFAULT_ALREADY_VERIFIED,
                        help="the response code a repeated verify answers")
    parser.add_argument("--split-row-limit", type=int, default=10,
                        help="most settlement rows one purchase may carry")
    parser.add_argument("--ledger", type=Path, help="append ledger events to this JSON lines file")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    ledger = Ledger(args.psp_id, args.ledger)
    host = PspHost(
        psp_id=args.psp_id, ledger=ledger, fleet=TerminalFleet(Deck(), args.pin_delay_ms), faults=FaultPlan(),
        already_verified_code=args.already_verified_code, verify_deadline_s=args.verify_deadline_s,
        split_row_limit=args.split_row_limit)
    iso_server = await asyncio.start_server(host.handle_connection, args.host, args.iso_port)
    control = web.AppRunner(build_control_app(host), access_log=None)
    await control.setup()
    await web.TCPSite(control, args.host, args.control_port).start()

    print(json.dumps({"iso_port": iso_server.sockets[0].getsockname()[1],
                      "control_port": control.addresses[0][1]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        iso_server.close()
        host.close()
        await control.cleanup()
        ledger.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format=f"%(asctime)s {args.psp_id} %(levelname)s %(name)s: %(message)s")
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
