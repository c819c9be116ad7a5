"""SIGTERM to `pishkhan serve` while a cardholder is entering a PIN: the charge still completes, then the process
exits cleanly and takes no new connections."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import aiohttp

from tests.security.support import serve_gateway
from tests.stack import charge_body

TERMINAL = "10000004"


async def test_sigterm_lets_an_in_flight_charge_complete(settings, db, keys, sims, gateway_logs, http_session):
    served = await asyncio.to_thread(serve_gateway, settings, gateway_logs)
    simulator = sims["psp-mellat"]
    key = await keys(f"t:{TERMINAL}")
    pushed_before = await _pushes(simulator)
    await simulator.pin_delay(TERMINAL, 1500)
    try:
        charge = asyncio.create_task(_charge(http_session, served.url, key))
        while await _pushes(simulator) == pushed_before:
            assert not charge.done(), await charge
            await asyncio.sleep(0.02)

        served.process.send_signal(signal.SIGTERM)
        refused = await _refuses_connections_soon(http_session, served.url)
        assert not charge.done(), "the charge was answered before the gateway stopped listening"
        status, body = await charge
        exit_code = await asyncio.to_thread(served.process.wait, 40)
    finally:
        await simulator.pin_delay(TERMINAL, 0)
        if served.process.poll() is None:
            served.stop(signal.SIGKILL)

    assert status == 201 and body["status"] == "completed", body
    assert refused, "the gateway kept accepting connections after SIGTERM"
    assert exit_code == 0
    stored = await db.fetchval("SELECT status FROM charges WHERE id = $1", uuid.UUID(body["id"]))
    assert stored == "completed"


async def _charge(session: aiohttp.ClientSession, url: str, key: str) -> tuple[int, dict]:
    started = time.monotonic()
    async with session.post(
        url + "/v1/charges",
        json=charge_body(terminal_id=TERMINAL, operator_id="op-31"),
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex},
    ) as answer:
        body = await answer.json()
    assert time.monotonic() - started > 1.0, "the charge did not wait for the PIN"
    return answer.status, body


async def _pushes(simulator) -> int:
    return len([e for e in await simulator.ledger() if e["terminal_id"] == TERMINAL])


async def _refuses_connections_soon(session: aiohttp.ClientSession, url: str, within: float = 1.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            async with session.get(url + "/healthz", timeout=aiohttp.ClientTimeout(total=0.5)):
                pass
        except (TimeoutError, aiohttp.ClientConnectionError):
            return True
        await asyncio.sleep(0.05)
    return False
