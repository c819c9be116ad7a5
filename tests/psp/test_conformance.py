"""The contract every PSP adapter keeps, checked against the PSP host simulator running as a separate process.

Adding a PSP protocol is one line in ENDPOINTS.
"""
from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
import time

import pytest

from psp_adapters.base import Outcome, TxnState
from psp_adapters.registry import create_adapter
from tests.psp.sim_support import (
    ALREADY_VERIFIED,
    CAPABILITIES,
    new_purchase,
    new_terminal_id,
    start_simulator,
    txn_ref,
)

ENDPOINTS = {
    "iso8583-tcp": lambda host: {"host": "127.0.0.1", "port": host.iso_port},
}

@pytest.fixture(scope="module", params=sorted(ENDPOINTS))
def protocol(request) -> str:
    return request.param


@pytest.fixture
async def connect(protocol, psp_host):
    """Builds adapters for this protocol (on the shared host unless given another) and closes them afterwards."""
    adapters = []

    def connect(host=psp_host, *, purchase_timeout: float = 10.0, timeout: float = 5.0):
        endpoint = {**ENDPOINTS[protocol](host), "purchase_timeout": purchase_timeout}
        adapter = create_adapter("psp-test", protocol, endpoint, CAPABILITIES, timeout)
        adapters.append(adapter)
        return adapter

    yield connect
    for adapter in adapters:
        await adapter.close()


@pytest.fixture
def adapter(connect):
    return connect()


def assert_masked(masked_pan: str | None) -> None:
    assert masked_pan is not None
    assert sum(character.isdigit() for character in masked_pan) <= 10
    assert re.fullmatch(r"\d{6}\*+\d{4}", masked_pan), masked_pan


async def test_approve_verify_settle(adapter, simulator):
    request = new_purchase()

    reply = await adapter.purchase(request)

    assert (reply.outcome, reply.response_code, reply.stan) == (Outcome.APPROVED, "00", request.stan)
    assert re.fullmatch(r"\d{12}", reply.rrn) and re.fullmatch(r"\d{6}", reply.auth_code)
    assert_masked(reply.masked_pan)
    entry = await simulator.entry(request.reference)
    assert (entry["state"], entry["amount"], entry["rrn"]) == ("approved", request.amount, reply.rrn)
    assert [(row["iban"], row["amount"], row["payment_id"]) for row in entry["settlement_rows"]] == [
        (row.iban, row.amount, row.payment_id) for row in request.settlement_rows]

    ref = txn_ref(request, reply)
    verified = await adapter.verify(ref)
    assert (verified.outcome, verified.response_code) == (Outcome.APPROVED, "00")
    assert (await simulator.entry(request.reference))["state"] == "verified"

    settled = await adapter.settle(ref)
    assert settled.outcome is Outcome.APPROVED
    assert (await simulator.entry(request.reference))["state"] == "settled"
    inquiry = await adapter.inquire(ref)
    assert (inquiry.state, inquiry.rrn) == (TxnState.SETTLED, reply.rrn)

    refused = await adapter.reverse(ref)
    assert (refused.outcome, refused.response_code) == (Outcome.DECLINED, "12")
    assert (await simulator.entry(request.reference))["state"] == "settled"


@pytest.mark.parametrize(("scripted", "code"), [
    ("decline:51", "51"), ("decline:55", "55"), ("decline:61", "61"), ("cancel", "99")])
async def test_cardholder_declines(adapter, simulator, scripted, code):
    request = new_purchase()
    await simulator.script(request.terminal_id, scripted)

    reply = await adapter.purchase(request)

    assert (reply.outcome, reply.response_code) == (Outcome.DECLINED, code)
    assert reply.masked_pan is None or sum(c.isdigit() for c in reply.masked_pan) <= 10
    entry = await simulator.entry(request.reference)
    assert (entry["state"], entry["response_code"]) == ("declined", code)
    inquiry = await adapter.inquire(txn_ref(request))
    assert (inquiry.state, inquiry.response_code) == (TxnState.DECLINED, code)


async def test_script_is_consumed_then_the_deck_approves(adapter, simulator):
    terminal_id = new_terminal_id()
    await simulator.script(terminal_id, "decline:51")

    first = await adapter.purchase(new_purchase(terminal_id))
    second = await adapter.purchase(new_purchase(terminal_id))

    assert (first.response_code, second.response_code) == ("51", "00")


async def test_no_answer_is_unknown_within_the_timeout_then_pending(connect, simulator):
    adapter = connect(purchase_timeout=0.5)
    request = new_purchase()
    await simulator.script(request.terminal_id, "no_answer")

    started = time.monotonic()
    reply = await adapter.purchase(request)
    elapsed = time.monotonic() - started

    assert reply.outcome is Outcome.UNKNOWN and reply.response_code is None
    assert 0.5 <= elapsed < 2.0
    ref = txn_ref(request)
    inquiry = await adapter.inquire(ref)
    assert (inquiry.outcome, inquiry.state) == (Outcome.APPROVED, TxnState.PENDING)

    reversal = await adapter.reverse(ref)
    assert reversal.outcome is Outcome.APPROVED
    assert (await adapter.inquire(ref)).state is TxnState.REVERSED


async def test_reversal_while_the_cardholder_is_at_the_terminal_voids_the_purchase(connect, simulator):
    adapter = connect(purchase_timeout=0.2)
    request = new_purchase()
    await simulator.pin_delay(request.terminal_id, 800)

    timed_out = await adapter.purchase(request)
    reversal = await adapter.reverse(txn_ref(request))
    await asyncio.sleep(0.7)   # the cardholder finishes after the reversal

    assert (timed_out.outcome, reversal.outcome) == (Outcome.UNKNOWN, Outcome.APPROVED)
    entry = await simulator.entry(request.reference)
    assert [step["state"] for step in entry["history"]] == ["pending", "reversed"]
    assert (await adapter.inquire(txn_ref(request))).state is TxnState.REVERSED


async def test_reverse_after_approve_is_idempotent(adapter, simulator):
    request = new_purchase()
    reply = await adapter.purchase(request)
    ref = txn_ref(request, reply)

    first = await adapter.reverse(ref)
    second = await adapter.reverse(ref)

    assert (first.outcome, second.outcome) == (Outcome.APPROVED, Outcome.APPROVED)
    entry = await simulator.entry(request.reference)
    assert entry["state"] == "reversed"
    assert [step["state"] for step in entry["history"]] == ["pending", "approved", "reversed"]
    late_verify = await adapter.verify(ref)
    assert late_verify.outcome is Outcome.DECLINED and late_verify.response_code not in CAPABILITIES.already_verified_codes


async def test_second_verify_counts_as_approved(adapter, simulator):
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))

    first = await adapter.verify(ref)
    second = await adapter.verify(ref)

    assert (first.outcome, first.response_code) == (Outcome.APPROVED, "00")
    assert (second.outcome, second.response_code) == (Outcome.APPROVED, ALREADY_VERIFIED)
    assert (await simulator.entry(request.reference))["state"] == "verified"


async def test_inquiry_of_an_unknown_purchase_is_not_found(adapter):
    inquiry = await adapter.inquire(txn_ref(new_purchase()))

    assert (inquiry.outcome, inquiry.state) == (Outcome.APPROVED, TxnState.NOT_FOUND)


async def test_follow_ups_of_an_unknown_purchase_are_declined(adapter):
    ref = txn_ref(new_purchase())

    replies = [await adapter.verify(ref), await adapter.settle(ref), await adapter.reverse(ref)]

    assert [(reply.outcome, reply.response_code) for reply in replies] == [(Outcome.DECLINED, "25")] * 3


async def test_busy_terminal_declines_a_second_card(adapter, simulator):
    terminal_id = new_terminal_id()
    await simulator.pin_delay(terminal_id, 300)

    replies = await asyncio.gather(adapter.purchase(new_purchase(terminal_id)),
                                   adapter.purchase(new_purchase(terminal_id)))

    assert sorted(reply.response_code for reply in replies) == ["00", "09"]


async def test_many_purchases_in_flight_resolve_to_their_own_outcomes(adapter, simulator):
    outcomes = {"approve": "00", "decline:51": "51", "cancel": "99", "decline:61": "61"}
    requests, expected = [], {}
    for index in range(200):
        # STANs are unique per terminal only: the same STAN on 200 terminals must not confuse the replies.
        request = new_purchase(amount=10_000 + index, stan="000777")
        scripted = list(outcomes)[index % len(outcomes)]
        await simulator.script(request.terminal_id, scripted)
        # Different PIN times make the replies come back in another order than the requests went out.
        await simulator.pin_delay(request.terminal_id, (index * 37) % 400)
        requests.append(request)
        expected[request.reference] = outcomes[scripted]

    replies = await asyncio.gather(*(adapter.purchase(request) for request in requests))

    assert {request.reference: reply.response_code for request, reply in zip(requests, replies)} == expected
    assert all(reply.stan == request.stan for request, reply in zip(requests, replies))
    for reply in replies:
        assert_masked(reply.masked_pan)
    ledger = {entry["reference"]: entry for entry in await simulator.ledger()}
    assert all(ledger[request.reference]["amount"] == request.amount for request in requests)


async def test_unverified_approval_is_reversed_by_the_psp(connect):
    host = start_simulator("--verify-deadline-s", "0.3")
    try:
        adapter = connect(host)
        request = new_purchase()
        ref = txn_ref(request, await adapter.purchase(request))
        await asyncio.sleep(0.6)

        assert (await adapter.inquire(ref)).state is TxnState.REVERSED
        assert (await adapter.verify(ref)).outcome is Outcome.DECLINED
    finally:
        host.stop()


async def test_host_down_is_unknown_and_the_adapter_reconnects(connect):
    host = start_simulator()
    adapter = connect(host, timeout=1.0)
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    host.stop()

    down = [await adapter.verify(ref), await adapter.inquire(ref), await adapter.purchase(new_purchase())]

    assert [reply.outcome for reply in down] == [Outcome.UNKNOWN] * 3
    assert down[1].state is TxnState.UNKNOWN
    restarted = start_simulator("--iso-port", str(host.iso_port))
    try:
        assert (await adapter.purchase(new_purchase())).outcome is Outcome.APPROVED
    finally:
        restarted.stop()


async def test_nothing_listening_is_unknown(connect, psp_host):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    adapter = connect(dataclasses.replace(psp_host, iso_port=closed_port), timeout=1.0)

    reply = await adapter.purchase(new_purchase())

    assert reply.outcome is Outcome.UNKNOWN and reply.detail


async def test_lost_approval_is_unknown_and_inquiry_finds_it(connect, simulator):
    adapter = connect(purchase_timeout=0.5)
    request = new_purchase()
    await simulator.fault("drop_reply", request.terminal_id, mti="0200")

    reply = await adapter.purchase(request)

    assert reply.outcome is Outcome.UNKNOWN
    inquiry = await adapter.inquire(txn_ref(request))
    assert (inquiry.state, inquiry.response_code) == (TxnState.APPROVED, "00")
    assert_masked(inquiry.masked_pan)


async def test_connection_reset_is_unknown_and_a_retry_succeeds(adapter, simulator):
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    await simulator.fault("reset_connection", request.terminal_id, mti="0220")

    lost = await adapter.verify(ref)
    retried = await adapter.verify(ref)

    assert lost.outcome is Outcome.UNKNOWN
    assert (retried.outcome, retried.response_code) == (Outcome.APPROVED, ALREADY_VERIFIED)


async def test_garbled_reply_is_unknown(adapter, simulator):
    request = new_purchase()
    await simulator.fault("garble_reply", request.terminal_id)

    reply = await adapter.purchase(request)

    assert reply.outcome is Outcome.UNKNOWN
    assert (await adapter.inquire(txn_ref(request))).state is TxnState.APPROVED


async def test_duplicate_reply_is_ignored(adapter, simulator):
    request = new_purchase()
    await simulator.fault("duplicate_reply", request.terminal_id)

    first = await adapter.purchase(request)
    verified = await adapter.verify(txn_ref(request, first))

    assert (first.outcome, verified.outcome, verified.response_code) == (Outcome.APPROVED, Outcome.APPROVED, "00")


async def test_slow_reply_past_the_timeout_is_unknown(connect, simulator):
    adapter = connect(timeout=0.3)
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    await simulator.fault("slow_reply", request.terminal_id, mti="0600", delay_ms=800)

    slow = await adapter.inquire(ref)
    after = await adapter.inquire(ref)

    assert (slow.outcome, slow.state) == (Outcome.UNKNOWN, TxnState.UNKNOWN)
    assert after.state is TxnState.APPROVED
