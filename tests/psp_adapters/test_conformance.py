"""The contract every PSP adapter keeps, checked against the PSP host simulator running as a separate process
that speaks the adapter's protocol. Every case runs once per protocol.

Adding a PSP protocol is one line in ENDPOINTS (and its front end in the simulator).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
import time

import pytest

from gateway.core.psp import Outcome, TxnState
from psp_adapters.registry import create_adapter
from simulators.psp.psp_host import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.simulators.psp_support import (
    ALREADY_VERIFIED,
    CAPABILITIES,
    SimulatorControl,
    new_purchase,
    new_terminal_id,
    start_simulator,
    txn_ref,
)

ENDPOINTS = {
    "iso8583-tcp": lambda host: {"host": "127.0.0.1", "port": host.port},
    "pcpos-http": lambda host: {
        "host": "127.0.0.1",
        "port": host.port,
        "scheme": "http",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    },
}


@pytest.fixture(scope="module", params=sorted(ENDPOINTS))
def protocol(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def host(protocol):
    host = start_simulator("--protocol", protocol, "--psp-id", "psp-test")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def simulator(host, http_session) -> SimulatorControl:
    return SimulatorControl(host, http_session)


@pytest.fixture
def start(protocol):
    """Starts a simulator of this protocol with its own options, stopped after the test."""
    started = []

    def start(*args: str):
        started.append(start_simulator("--protocol", protocol, *args))
        return started[-1]

    yield start
    for own in started:
        if own.process.poll() is None:
            own.stop()


@pytest.fixture
async def connect(protocol, host):
    """Builds adapters for this protocol (on the shared host unless given another) and closes them afterwards."""
    adapters = []

    def connect(on=host, *, purchase_timeout: float = 10.0, timeout: float = 5.0, capabilities=CAPABILITIES):
        endpoint = {**ENDPOINTS[protocol](on), "purchase_timeout": purchase_timeout}
        adapter = create_adapter("psp-test", protocol, endpoint, capabilities, timeout)
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
        (row.iban, row.amount, row.payment_id) for row in request.settlement_rows
    ]

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


@pytest.mark.parametrize(
    ("scripted", "code"), [("decline:51", "51"), ("decline:55", "55"), ("decline:61", "61"), ("cancel", "99")]
)
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
    await asyncio.sleep(0.7)  # the cardholder finishes after the reversal

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
    assert (
        late_verify.outcome is Outcome.DECLINED and late_verify.response_code not in CAPABILITIES.already_verified_codes
    )


async def test_refund_of_a_verified_purchase_has_its_own_rrn_and_is_idempotent(adapter, simulator):
    request = new_purchase()
    reply = await adapter.purchase(request)
    ref = txn_ref(request, reply)
    await adapter.verify(ref)

    first = await adapter.refund(ref)
    second = await adapter.refund(ref)

    assert (first.outcome, first.response_code) == (Outcome.APPROVED, "00")
    assert re.fullmatch(r"\d{12}", first.rrn) and first.rrn != reply.rrn
    assert (second.outcome, second.rrn) == (Outcome.APPROVED, first.rrn)
    entry = await simulator.entry(request.reference)
    assert (entry["state"], entry["refund"]["rrn"]) == ("verified", first.rrn)
    no_longer_reversible = await adapter.reverse(ref)
    assert (no_longer_reversible.outcome, no_longer_reversible.response_code) == (Outcome.DECLINED, "12")


async def test_refund_needs_a_purchase_whose_money_the_psp_holds(adapter, simulator):
    approved, reversed_ = new_purchase(), new_purchase()
    approved_ref = txn_ref(approved, await adapter.purchase(approved))
    reversed_ref = txn_ref(reversed_, await adapter.purchase(reversed_))
    await adapter.reverse(reversed_ref)

    replies = [await adapter.refund(approved_ref), await adapter.refund(reversed_ref)]

    assert [(reply.outcome, reply.response_code) for reply in replies] == [(Outcome.DECLINED, "12")] * 2
    assert (await simulator.entry(reversed_.reference))["refund"] is None


async def test_a_lost_refund_answer_is_unknown_and_sending_again_gets_the_same_refund(adapter, simulator):
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    await adapter.verify(ref)
    await simulator.fault("drop_reply", request.terminal_id, operation="refund")

    lost = await adapter.refund(ref)
    again = await adapter.refund(ref)

    assert lost.outcome is Outcome.UNKNOWN
    assert (again.outcome, again.rrn) == (Outcome.APPROVED, (await simulator.entry(request.reference))["refund"]["rrn"])


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

    replies = [
        await adapter.verify(ref),
        await adapter.settle(ref),
        await adapter.reverse(ref),
        await adapter.refund(ref),
    ]

    assert [(reply.outcome, reply.response_code) for reply in replies] == [(Outcome.DECLINED, "25")] * 4


async def test_busy_terminal_declines_a_second_card(adapter, simulator):
    terminal_id = new_terminal_id()
    await simulator.pin_delay(terminal_id, 300)

    replies = await asyncio.gather(
        adapter.purchase(new_purchase(terminal_id)), adapter.purchase(new_purchase(terminal_id))
    )

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

    assert {
        request.reference: reply.response_code for request, reply in zip(requests, replies, strict=True)
    } == expected
    assert all(reply.stan == request.stan for request, reply in zip(requests, replies, strict=True))
    for reply in replies:
        assert_masked(reply.masked_pan)
    ledger = {entry["reference"]: entry for entry in await simulator.ledger()}
    assert all(ledger[request.reference]["amount"] == request.amount for request in requests)


async def test_the_psps_own_deadlines_and_codes(connect, start):
    own = start("--verify-deadline-s", "0.6", "--reversal-window-s", "0.6", "--already-verified-code", "43")
    adapter = connect(own, capabilities=dataclasses.replace(CAPABILITIES, already_verified_codes=frozenset({"43"})))
    unverified, verified = new_purchase(), new_purchase()
    unverified_ref = txn_ref(unverified, await adapter.purchase(unverified))
    verified_ref = txn_ref(verified, await adapter.purchase(verified))
    first, again = await adapter.verify(verified_ref), await adapter.verify(verified_ref)
    await asyncio.sleep(0.9)

    assert (first.response_code, again.outcome, again.response_code) == ("00", Outcome.APPROVED, "43")
    assert (await adapter.inquire(unverified_ref)).state is TxnState.REVERSED
    assert (await adapter.verify(unverified_ref)).outcome is Outcome.DECLINED
    too_late = await adapter.reverse(verified_ref)
    assert (too_late.outcome, too_late.response_code) == (Outcome.DECLINED, "12")
    assert (await adapter.inquire(verified_ref)).state is TxnState.VERIFIED


async def test_host_process_gone_is_unknown_and_the_adapter_reconnects(connect, start):
    own = start()
    adapter = connect(own, timeout=1.0)
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    own.stop()

    down = [await adapter.verify(ref), await adapter.inquire(ref), await adapter.purchase(new_purchase())]

    assert [reply.outcome for reply in down] == [Outcome.UNKNOWN] * 3
    assert down[1].state is TxnState.UNKNOWN
    start("--port", str(own.port))
    assert (await adapter.purchase(new_purchase())).outcome is Outcome.APPROVED


async def test_nothing_listening_is_unknown(connect, host):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    adapter = connect(dataclasses.replace(host, port=closed_port), timeout=1.0)

    reply = await adapter.purchase(new_purchase())

    assert reply.outcome is Outcome.UNKNOWN and reply.detail


async def test_lost_approval_is_unknown_and_inquiry_finds_it(connect, simulator):
    adapter = connect(purchase_timeout=0.5)
    request = new_purchase()
    await simulator.fault("drop_reply", request.terminal_id, operation="purchase")

    reply = await adapter.purchase(request)

    assert reply.outcome is Outcome.UNKNOWN
    inquiry = await adapter.inquire(txn_ref(request))
    assert (inquiry.state, inquiry.response_code) == (TxnState.APPROVED, "00")
    assert_masked(inquiry.masked_pan)


async def test_connection_reset_is_unknown_and_a_retry_succeeds(adapter, simulator):
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    await simulator.fault("reset_connection", request.terminal_id, operation="verify")

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


async def test_duplicate_reply_is_never_a_second_outcome(adapter, simulator):
    request = new_purchase()
    await simulator.fault("duplicate_reply", request.terminal_id, operation="purchase")

    first = await adapter.purchase(request)
    ref = txn_ref(request, first)
    # The copy has nobody waiting for it (ISO 8583), or is refused as the answer to another request (HTTP keep-alive):
    # a verify that meets it is unknown, never a decline; the PSP holds exactly one verified purchase.
    verifies = [await adapter.verify(ref) for _ in range(2)]

    assert (first.outcome, first.response_code) == (Outcome.APPROVED, "00")
    assert all(v.outcome in (Outcome.APPROVED, Outcome.UNKNOWN) for v in verifies)
    entry = await simulator.entry(request.reference)
    assert [step["state"] for step in entry["history"]] == ["pending", "approved", "verified"]


async def test_a_late_copy_of_a_decline_is_never_taken_for_the_next_purchase(adapter, simulator):
    terminal_id = new_terminal_id()
    await simulator.script(terminal_id, "decline:51")
    await simulator.fault("duplicate_reply", terminal_id, operation="purchase", delay_ms=150)

    declined = await adapter.purchase(new_purchase(terminal_id))
    await asyncio.sleep(0.3)  # the copy arrives while nothing is asked
    following = await adapter.purchase(new_purchase(terminal_id))
    after = await adapter.purchase(new_purchase(terminal_id))

    assert (declined.outcome, declined.response_code) == (Outcome.DECLINED, "51")
    assert following.outcome in (Outcome.APPROVED, Outcome.UNKNOWN) and following.response_code != "51"
    assert (after.outcome, after.response_code) == (Outcome.APPROVED, "00")


async def test_slow_reply_past_the_timeout_is_unknown(connect, simulator):
    adapter = connect(timeout=0.3)
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    await simulator.fault("slow_reply", request.terminal_id, operation="inquiry", delay_ms=800)

    slow = await adapter.inquire(ref)
    after = await adapter.inquire(ref)

    assert (slow.outcome, slow.state) == (Outcome.UNKNOWN, TxnState.UNKNOWN)
    assert after.state is TxnState.APPROVED


async def test_late_reply_after_a_reversal_is_ignored(connect, simulator):
    adapter = connect(purchase_timeout=0.5)
    request = new_purchase()
    await simulator.fault("late_reply", request.terminal_id, operation="purchase")

    lost = await adapter.purchase(request)
    reversal = await adapter.reverse(txn_ref(request))
    # The held approval now arrives, while the next purchase on the same terminal waits for its own answer.
    await simulator.pin_delay(request.terminal_id, 200)
    following = new_purchase(request.terminal_id)
    next_reply = await adapter.purchase(following)

    assert (lost.outcome, reversal.outcome) == (Outcome.UNKNOWN, Outcome.APPROVED)
    assert (next_reply.outcome, next_reply.stan) == (Outcome.APPROVED, following.stan)
    entry = await simulator.entry(request.reference)
    assert [step["state"] for step in entry["history"]] == ["pending", "approved", "reversed"]
    assert (await adapter.inquire(txn_ref(request))).state is TxnState.REVERSED


async def test_unreachable_terminal_is_declined_and_nothing_is_charged(adapter, simulator):
    request = new_purchase()
    await simulator.fault("terminal_unreachable", request.terminal_id)

    reply = await adapter.purchase(request)

    assert (reply.outcome, reply.response_code, reply.rrn) == (Outcome.DECLINED, "92", None)
    inquiry = await adapter.inquire(txn_ref(request))
    assert (inquiry.state, inquiry.response_code) == (TxnState.DECLINED, "92")
    assert (await adapter.purchase(new_purchase(request.terminal_id))).outcome is Outcome.APPROVED


async def test_terminal_reached_too_late_is_unknown_then_declined(connect, simulator):
    adapter = connect(purchase_timeout=0.3)
    request = new_purchase()
    await simulator.fault("terminal_unreachable", request.terminal_id, delay_ms=700)

    reply = await adapter.purchase(request)
    while_trying = await adapter.inquire(txn_ref(request))
    await asyncio.sleep(0.8)
    given_up = await adapter.inquire(txn_ref(request))

    assert (reply.outcome, while_trying.state) == (Outcome.UNKNOWN, TxnState.PENDING)
    assert (given_up.state, given_up.response_code) == (TxnState.DECLINED, "92")


async def test_host_down_refuses_at_once_then_comes_back(connect, simulator):
    adapter = connect(timeout=2.0)
    request = new_purchase()
    ref = txn_ref(request, await adapter.purchase(request))
    await simulator.host_down()

    started = time.monotonic()
    down = [await adapter.verify(ref), await adapter.inquire(ref), await adapter.purchase(new_purchase())]
    elapsed = time.monotonic() - started
    await simulator.clear_faults()
    back = await adapter.verify(ref)

    assert [reply.outcome for reply in down] == [Outcome.UNKNOWN] * 3 and elapsed < 1.0
    assert (back.outcome, back.response_code) == (Outcome.APPROVED, "00")


async def test_purchase_at_the_terminal_outlives_its_host_going_down(connect, simulator):
    adapter = connect(timeout=1.0)
    request = new_purchase()
    await simulator.pin_delay(request.terminal_id, 400)

    waiting = asyncio.create_task(adapter.purchase(request))
    await asyncio.sleep(0.15)
    await simulator.host_down()
    cut = await waiting
    await asyncio.sleep(0.5)  # the cardholder finishes while the host is down
    await simulator.clear_faults()
    inquiry = await adapter.inquire(txn_ref(request))

    assert cut.outcome is Outcome.UNKNOWN
    assert (inquiry.state, inquiry.response_code) == (TxnState.APPROVED, "00")
    assert_masked(inquiry.masked_pan)
