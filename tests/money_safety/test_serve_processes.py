"""`pishkhan serve` with several processes: each serving process listens on the shared port, and the background
work runs in one more process that does not listen and yields the cores to the serving ones."""

from __future__ import annotations

import asyncio

import psutil

from gateway.web.server import BACKGROUND_NICENESS
from tests.money_safety.gateway_process import GatewayProcess


async def test_the_background_process_serves_no_requests_and_runs_at_a_lower_priority(
    gateway_env, http_session, tmp_path
):
    server = GatewayProcess(gateway_env, tmp_path / "gateway.log")
    try:
        await server.start(http_session)  # ready as soon as the first serving process answers
        parent = psutil.Process(server.process.pid)
        port = int(gateway_env["PISHKHAN_PORT"])
        for _ in range(300):  # the others may still be starting on a busy machine
            children = parent.children()
            listening = [
                child
                for child in children
                if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in child.net_connections())
            ]
            if len(listening) >= int(gateway_env["PISHKHAN_WORKERS"]):
                break
            await asyncio.sleep(0.1)
        background = [child for child in children if child not in listening]

        assert len(listening) == int(gateway_env["PISHKHAN_WORKERS"])
        assert len(background) == 1
        assert {child.nice() for child in listening} == {parent.nice()}
        assert background[0].nice() == min(parent.nice() + BACKGROUND_NICENESS, 19)
    finally:
        server.stop()
