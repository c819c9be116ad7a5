"""What is particular to the ISO 8583 over TCP adapter: its connections to the PSP host."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gateway.core.psp import Outcome
from psp_adapters import iso8583_spec as spec
from psp_adapters import shetab
from psp_adapters.iso8583_connection import Iso8583Connection, LinkFault
from psp_adapters.registry import create_adapter
from tests.simulators.psp_support import CAPABILITIES, new_purchase, new_terminal_id


def inquiry(terminal_id: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "t": spec.INQUIRY,
        "3": spec.PROCESSING_CODE,
        "4": spec.amount_field(1000),
        "7": spec.transmission_field(now),
        "11": "000001",
        "41": terminal_id,
        "42": "000000123456789",
        "49": spec.CURRENCY_RIAL,
        "90": spec.original_data_field(spec.OriginalData(spec.PURCHASE, "000001", "0101000000")),
    }


@pytest.fixture
async def connection(psp_host):
    connection = Iso8583Connection("127.0.0.1", psp_host.port, connect_timeout=1.0)
    yield connection
    await connection.close()


async def test_a_timed_out_request_leaves_nothing_in_flight(connection, simulator):
    terminal_id = new_terminal_id()
    await simulator.fault("slow_reply", terminal_id, delay_ms=500)

    with pytest.raises(LinkFault, match="no 0610"):
        await connection.exchange(inquiry(terminal_id), timeout=0.2)

    assert connection.in_flight == 0
    assert (await connection.exchange(inquiry(terminal_id), timeout=1.0))["39"] == shetab.NOT_FOUND


async def test_the_same_request_twice_in_flight_is_refused(connection, simulator):
    terminal_id = new_terminal_id()
    await simulator.fault("slow_reply", terminal_id, delay_ms=200)

    first, second = await asyncio.gather(
        connection.exchange(inquiry(terminal_id), timeout=1.0),
        connection.exchange(inquiry(terminal_id), timeout=1.0),
        return_exceptions=True,
    )

    assert first["39"] == shetab.NOT_FOUND
    assert isinstance(second, LinkFault) and "already in flight" in str(second)


async def test_a_request_that_does_not_encode_is_refused_before_sending(connection):
    with pytest.raises(ValueError):
        await connection.exchange(inquiry("123456789"), timeout=1.0)

    assert connection.in_flight == 0


async def test_a_reset_on_one_pooled_connection_spares_the_others(psp_host, simulator):
    endpoint = {"host": "127.0.0.1", "port": psp_host.port, "connections": 3}
    adapter = create_adapter("psp-test", "iso8583-tcp", endpoint, CAPABILITIES, 2.0)
    waiting = [new_purchase() for _ in range(12)]
    for request in waiting:
        await simulator.pin_delay(request.terminal_id, 300)
    broken = new_purchase()
    await simulator.fault("reset_connection", broken.terminal_id)
    try:
        in_flight = asyncio.gather(*(adapter.purchase(request) for request in waiting))
        await asyncio.sleep(0.1)  # every cardholder is now entering a PIN
        cut = await adapter.purchase(broken)
        replies = await in_flight
    finally:
        await adapter.close()

    assert cut.outcome is Outcome.UNKNOWN
    # On one shared connection every waiting purchase would have been lost with it.
    assert Outcome.APPROVED in {reply.outcome for reply in replies}
    assert {reply.outcome for reply in replies} <= {Outcome.APPROVED, Outcome.UNKNOWN}


async def test_requests_made_in_one_turn_go_out_in_one_write_and_each_gets_its_own_reply(connection, monkeypatch):
    await connection.exchange(inquiry(new_terminal_id()), timeout=2.0)  # the connection is open
    writes = []
    write = asyncio.StreamWriter.write
    monkeypatch.setattr(asyncio.StreamWriter, "write", lambda writer, data: writes.append(data) or write(writer, data))
    terminals = [new_terminal_id() for _ in range(20)]

    replies = await asyncio.gather(*(connection.exchange(inquiry(terminal), timeout=2.0) for terminal in terminals))

    assert len(writes) == 1
    assert [reply["41"] for reply in replies] == terminals
    assert {reply["39"] for reply in replies} == {shetab.NOT_FOUND}
    assert connection.in_flight == 0


async def test_a_purchase_given_up_before_its_turn_ends_never_reaches_the_host(psp_host, simulator):
    adapter = create_adapter("psp-test", "iso8583-tcp", {"host": "127.0.0.1", "port": psp_host.port}, CAPABILITIES, 2.0)
    kept, given_up = new_purchase(), new_purchase()
    try:
        await adapter.purchase(new_purchase())  # the connection is open
        sending = [asyncio.create_task(adapter.purchase(request)) for request in (kept, given_up)]
        await asyncio.sleep(0)  # both purchases have queued their frames for the write at the end of this turn
        sending[1].cancel()
        reply = await sending[0]
        with pytest.raises(asyncio.CancelledError):
            await sending[1]
    finally:
        await adapter.close()

    assert reply.outcome is Outcome.APPROVED
    # The caller was told nothing was answered before the frame went out: it must never go out.
    assert await simulator.ledger(given_up.reference) == []
