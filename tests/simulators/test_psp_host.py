"""The simulator process itself: its ledger file, its control API's answers to bad input, and reset."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from gateway.core.psp import Outcome
from psp_adapters.registry import create_adapter
from tests.simulators.psp_support import CAPABILITIES, SimulatorControl, new_purchase, start_simulator, txn_ref


@pytest.fixture(scope="module")
def ledger_file(tmp_path_factory):
    return tmp_path_factory.mktemp("psp") / "ledger.jsonl"


@pytest.fixture(scope="module")
def own_host(ledger_file):
    host = start_simulator("--psp-id", "psp-ledger", "--ledger", str(ledger_file))
    yield host
    host.stop()


async def test_ledger_events_are_appended_to_the_file(own_host, ledger_file):
    adapter = create_adapter(
        "psp-ledger", "iso8583-tcp", {"host": "127.0.0.1", "port": own_host.port}, CAPABILITIES, 2.0
    )
    request = new_purchase()
    try:
        await adapter.verify(txn_ref(request, await adapter.purchase(request)))
    finally:
        await adapter.close()

    events = [orjson.loads(line) for line in ledger_file.read_bytes().splitlines()]
    mine = [event for event in events if event.get("entry", {}).get("reference") == request.reference]
    assert [event["event"] for event in mine] == ["pending", "approved", "verified"]
    assert {event["psp_id"] for event in mine} == {"psp-ledger"}
    assert mine[-1]["entry"]["rrn"] and mine[-1]["entry"]["stan"] == request.stan
    assert "history" not in mine[-1]["entry"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/terminals/10000001/script", {"outcomes": ["explode"]}),
        ("/terminals/10000001/script", {"outcomes": "approve"}),
        ("/terminals/10000001/pin-delay", {"ms": -1}),
        ("/cardholders/finish", {"over_ms": -1}),
        ("/faults", {"kind": "meteor_strike"}),
        ("/faults", {"kind": "drop_reply", "count": 0}),
        ("/faults", {"kind": "drop_reply", "operation": "0200"}),
        ("/faults", {"kind": "host_down", "terminal_id": "10000001"}),
        ("/faults", ["not", "an", "object"]),
    ],
)
async def test_bad_control_requests_are_400(own_host, http_session, path, body):
    async with http_session.post(own_host.control_url + path, json=body) as response:
        assert response.status == 400
        assert "error" in await response.json()


async def test_finishing_pin_entry_spreads_the_waiting_purchases_in_order_and_spares_a_later_one(
    own_host, http_session
):
    control = SimulatorControl(own_host, http_session)
    adapter = create_adapter(
        "psp-ledger", "iso8583-tcp", {"host": "127.0.0.1", "port": own_host.port}, CAPABILITIES, 60.0
    )
    first, second, later = new_purchase(), new_purchase(), new_purchase()
    for request in (first, second):
        await control.pin_delay(request.terminal_id, 30_000)
    await control.pin_delay(later.terminal_id, 600)
    answered_after: dict[str, float] = {}

    async def purchase(request):
        reply = await adapter.purchase(request)
        answered_after[request.reference] = time.monotonic() - finishing
        return reply

    try:
        finishing = float("inf")
        in_flight = [asyncio.create_task(purchase(first))]
        await asyncio.sleep(0.1)
        in_flight.append(asyncio.create_task(purchase(second)))
        await asyncio.sleep(0.3)  # both cardholders are now entering their PINs
        finishing = time.monotonic()
        finished = await control.finish_pin_entry(over_ms=2_000)
        replies = await asyncio.gather(*in_flight)

        started = time.monotonic()
        late = await adapter.purchase(later)
        later_s = time.monotonic() - started
    finally:
        await adapter.close()

    assert finished == 2
    assert [reply.outcome for reply in replies] == [Outcome.APPROVED, Outcome.APPROVED]
    assert answered_after[first.reference] < 0.9
    assert 0.95 <= answered_after[second.reference] < 10
    assert late.outcome is Outcome.APPROVED and later_s >= 0.55


async def test_reset_forgets_the_ledger_and_the_faults(own_host, http_session):
    control = SimulatorControl(own_host, http_session)
    adapter = create_adapter(
        "psp-ledger", "iso8583-tcp", {"host": "127.0.0.1", "port": own_host.port}, CAPABILITIES, 2.0
    )
    try:
        await adapter.purchase(new_purchase())
    finally:
        await adapter.close()
    await control.fault("drop_reply", "10000001")
    await control.host_down()

    async with http_session.post(own_host.control_url + "/reset") as response:
        assert response.status == 200
    async with http_session.get(own_host.control_url + "/faults") as response:
        faults = await response.json()

    assert await control.ledger() == [] and faults == {"faults": [], "host_down": False}
    async with http_session.get(own_host.control_url + "/healthz") as response:
        assert await response.json() == {"status": "ok", "psp_id": "psp-ledger", "protocol": "iso8583-tcp"}
