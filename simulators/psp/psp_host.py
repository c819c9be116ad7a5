"""The PSP host and terminal-fleet simulator, a separate process speaking a PSP protocol: ISO 8583 over TCP or the
cloud PC-POS HTTP API.

    python -m simulators.psp.psp_host --protocol iso8583-tcp --port 0 --control-port 0 --psp-id psp-mellat

At startup it prints one JSON line with the ports it listens on: {"iso_port": 41234, "control_port": 41235} for
iso8583-tcp, {"http_port": 41234, "control_port": 41235} for pcpos-http; then it runs until SIGTERM or SIGINT.
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

from gateway.platform.gc_pauses import freeze_survivors_of_full_passes
from psp_adapters.shetab import DEFAULT_ALREADY_VERIFIED
from simulators.psp.cards import Deck
from simulators.psp.control_api import build_control_app
from simulators.psp.faults import FaultPlan
from simulators.psp.front_end import FrontEnd, Outage
from simulators.psp.host_rules import PspHost
from simulators.psp.iso_host import IsoFrontEnd
from simulators.psp.ledger import Ledger
from simulators.psp.pcpos_host import PcPosFrontEnd
from simulators.psp.saved_state import SavedState
from simulators.psp.terminals import TerminalFleet

log = logging.getLogger("psp_host")

PROTOCOLS = (IsoFrontEnd.protocol, PcPosFrontEnd.protocol)
DEMO_CLIENT_ID = "pishkhan-gateway"
DEMO_CLIENT_SECRET = "pishkhan-demo-secret"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="psp_host", description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=PROTOCOLS, default=IsoFrontEnd.protocol)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", "--iso-port", dest="port", type=int, default=0, help="the PSP protocol's port; 0 picks a free one"
    )
    parser.add_argument("--control-port", type=int, default=0, help="control API port; 0 picks a free one")
    parser.add_argument("--psp-id", default="psp-sim")
    parser.add_argument("--pin-delay-ms", type=int, default=0, help="the cardholders' PIN-entry time")
    parser.add_argument(
        "--verify-deadline-s",
        type=float,
        default=1200.0,
        help="an approved purchase not verified by then is reversed by the host",
    )
    parser.add_argument(
        "--reversal-window-s", type=float, default=3600.0, help="a purchase older than this can no longer be reversed"
    )
    parser.add_argument(
        "--already-verified-code", default=DEFAULT_ALREADY_VERIFIED, help="the response code a repeated verify answers"
    )
    parser.add_argument("--split-row-limit", type=int, default=10, help="most settlement rows one purchase may carry")
    parser.add_argument("--client-id", default=DEMO_CLIENT_ID, help="pcpos-http: the gateway's OAuth client id")
    parser.add_argument("--client-secret", default=DEMO_CLIENT_SECRET, help="pcpos-http: its client secret")
    parser.add_argument("--token-ttl-s", type=int, default=3600, help="pcpos-http: access token lifetime")
    parser.add_argument(
        "--identifier-ttl-s",
        type=float,
        default=60.0,
        help="pcpos-http: how long a registered payment request waits for StartPayment",
    )
    parser.add_argument(
        "--ledger",
        type=Path,
        help="keep the ledger in this JSON lines file of events: read back at start, appended to as events happen",
    )
    parser.add_argument(
        "--state",
        type=Path,
        help="keep the terminals' scripts and PIN delays and the faults still to inject in this JSON file",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def simulator_options(psp_id: str, psp: dict) -> list[str]:
    """The options that make the simulator behave as a registry PSP entry says (protocol, deadlines, codes, row
    limit, credentials); ports are left to the caller."""
    capabilities = psp["capabilities"]
    options = [
        "--psp-id",
        psp_id,
        "--protocol",
        psp["protocol"],
        "--verify-deadline-s",
        str(capabilities["verify_deadline_minutes"] * 60),
        "--reversal-window-s",
        str(capabilities["reversal_window_minutes"] * 60),
        "--already-verified-code",
        capabilities["already_verified_codes"][0],
        "--split-row-limit",
        str(capabilities["split_row_limit"]),
    ]
    endpoint = psp["endpoint"]
    if "client_id" in endpoint:
        options += ["--client-id", endpoint["client_id"], "--client-secret", endpoint["client_secret"]]
    return options


def _front_end(args: argparse.Namespace, host: PspHost) -> FrontEnd:
    if args.protocol == PcPosFrontEnd.protocol:
        return PcPosFrontEnd(
            host,
            client_id=args.client_id,
            client_secret=args.client_secret,
            token_ttl_s=args.token_ttl_s,
            identifier_ttl_s=args.identifier_ttl_s,
        )
    return IsoFrontEnd(host)


async def serve(args: argparse.Namespace) -> None:
    ledger = Ledger(args.psp_id, args.ledger)
    fleet, faults = TerminalFleet(Deck(), args.pin_delay_ms), FaultPlan()
    if args.state:
        saved = SavedState(args.state, fleet, faults)
        saved.read_back()
        fleet.on_change = faults.on_change = saved.save
    host = PspHost(
        psp_id=args.psp_id,
        ledger=ledger,
        fleet=fleet,
        faults=faults,
        already_verified_code=args.already_verified_code,
        verify_deadline_s=args.verify_deadline_s,
        reversal_window_s=args.reversal_window_s,
        split_row_limit=args.split_row_limit,
    )
    host.resume()
    front_end = _front_end(args, host)
    port = await front_end.listen(args.host, args.port)
    outage = Outage(front_end, args.host, port)
    control = web.AppRunner(build_control_app(host, front_end, outage), access_log=None)
    await control.setup()
    await web.TCPSite(control, args.host, args.control_port).start()

    print(json.dumps({front_end.port_key: port, "control_port": control.addresses[0][1]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await front_end.close()
        await control.cleanup()
        ledger.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format=f"%(asctime)s {args.psp_id} %(levelname)s %(name)s: %(message)s"
    )
    freeze_survivors_of_full_passes()
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
