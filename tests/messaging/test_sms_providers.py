"""SMS provider adapters against the SMS centre simulator, for every API it speaks: one conformance suite."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

import pytest

from gateway.messaging import (
    DeliveryStatus,
    OutgoingSms,
    SendOutcome,
    SmsProvider,
    create_sms_provider,
    provider_uid,
    require_4040_line,
)
from tests.messaging.support import DELIVERY_DELAY

SENDER = "404012345"
CREDENTIALS = {
    "payam_iran": {"token": "agency-token"},
    "magfa": {"username": "pishkhan", "domain": "magfa", "password": "secret"},
    "kavenegar": {"api_key": "4A2B-TEST-KEY"},
}
_numbers = itertools.count(1_000_000)


def fresh_mobile() -> str:
    return f"0912{next(_numbers):07d}"


def fresh_id() -> str:
    return f"sms-{time.monotonic_ns()}"


@pytest.fixture(params=["payam_iran", "magfa", "kavenegar"])
async def provider(request, sms_centre) -> SmsProvider:
    adapter = create_sms_provider(request.param, sms_centre.base_url, CREDENTIALS[request.param], timeout=1.0)
    yield adapter
    await adapter.close()


async def wait_for_status(
    provider: SmsProvider, message_id: str, wanted: DeliveryStatus, within: float = 3.0
) -> DeliveryStatus:
    deadline = time.monotonic() + within
    while True:
        status = (await provider.status([message_id]))[message_id]
        if status == wanted or time.monotonic() > deadline:
            return status
        await asyncio.sleep(DELIVERY_DELAY)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the interface's own rules -------------------------------------------------------------


@pytest.mark.parametrize("sender", ["40401", "4040123456", "40409876543210"])
def test_lines_under_4040_are_accepted(sender):
    assert require_4040_line(sender) == sender


@pytest.mark.parametrize("sender", ["4040", "3000123", "+984040123", "4040-123", "9840401234", "", None])
def test_lines_outside_4040_are_refused(sender):
    with pytest.raises(ValueError):
        require_4040_line(sender)


def test_provider_uid_is_stable_and_fits_64_bits():
    assert provider_uid("123456789") == 123456789
    hashed = provider_uid("0b6f6a0e-6a3b-4c55-9d0c-7f0f1b2b9f11")
    assert hashed == provider_uid("0b6f6a0e-6a3b-4c55-9d0c-7f0f1b2b9f11")
    assert 0 < hashed < 2**63
    assert provider_uid("sms-1") != provider_uid("sms-2")


def test_unknown_provider_kind_is_refused():
    with pytest.raises(ValueError, match="magfa"):
        create_sms_provider("smsir", "http://127.0.0.1:1", {}, 1.0)


# --- against the simulator -----------------------------------------------------------------


async def test_send_then_poll_until_delivered(provider, sms_centre):
    mobile, message_id = fresh_mobile(), fresh_id()
    text = "خدمت «ثبت نام» ارایه شد."
    result = await provider.send(message_id, SENDER, mobile, text)
    assert result.outcome is SendOutcome.ACCEPTED and result.provider_message_id
    assert await wait_for_status(provider, message_id, DeliveryStatus.DELIVERED) is DeliveryStatus.DELIVERED
    [delivered] = await sms_centre.handset(mobile)
    assert (delivered["text"], delivered["sender"]) == (text, SENDER)
    assert delivered["mid"] == int(result.provider_message_id)


async def test_recipient_is_normalised_before_sending(provider, sms_centre):
    mobile = fresh_mobile()
    result = await provider.send(fresh_id(), SENDER, "+98" + mobile[1:], "salam")
    assert result.accepted
    await asyncio.sleep(DELIVERY_DELAY * 3)
    assert len(await sms_centre.handset(mobile)) == 1


async def test_same_message_id_is_delivered_once(provider, sms_centre):
    mobile, message_id = fresh_mobile(), fresh_id()
    first = await provider.send(message_id, SENDER, mobile, "once")
    again = await provider.send(message_id, SENDER, mobile, "once")
    other = await provider.send(fresh_id(), SENDER, mobile, "twice")
    assert first.accepted and again.accepted and other.accepted
    assert again.provider_message_id == first.provider_message_id != other.provider_message_id
    await asyncio.sleep(DELIVERY_DELAY * 3)
    assert sorted(m["text"] for m in await sms_centre.handset(mobile)) == ["once", "twice"]


async def test_server_error_is_retryable_and_the_retry_delivers(provider, sms_centre):
    mobile, message_id = fresh_mobile(), fresh_id()
    await sms_centre.arm(kind="http_5xx", recipient=mobile, status=502)
    failed = await provider.send(message_id, SENDER, mobile, "x")
    assert failed.outcome is SendOutcome.RETRYABLE and "502" in failed.detail
    assert (await provider.send(message_id, SENDER, mobile, "x")).accepted
    assert await wait_for_status(provider, message_id, DeliveryStatus.DELIVERED) is DeliveryStatus.DELIVERED


async def test_a_fault_without_recipient_hits_the_next_count_sends_to_anyone(provider, sms_centre):
    first, second = fresh_mobile(), fresh_mobile()
    await sms_centre.arm(kind="http_5xx", count=2)
    assert (await provider.send(fresh_id(), SENDER, first, "x")).outcome is SendOutcome.RETRYABLE
    assert (await provider.send(fresh_id(), SENDER, second, "x")).outcome is SendOutcome.RETRYABLE
    assert (await provider.send(fresh_id(), SENDER, first, "x")).accepted


async def test_throttling_is_retryable_after_the_providers_delay(provider, sms_centre):
    mobile = fresh_mobile()
    await sms_centre.arm(kind="throttle", recipient=mobile, retry_after=7)
    result = await provider.send(fresh_id(), SENDER, mobile, "x")
    assert result.outcome is SendOutcome.RETRYABLE and result.retry_after == 7


async def test_timeout_is_retryable_and_nothing_is_delivered(sms_centre):
    impatient = create_sms_provider("magfa", sms_centre.base_url, CREDENTIALS["magfa"], timeout=0.2)
    mobile = fresh_mobile()
    await sms_centre.arm(kind="timeout", recipient=mobile, hold_s=1.0)
    try:
        result = await impatient.send(fresh_id(), SENDER, mobile, "x")
    finally:
        await impatient.close()
    assert result.outcome is SendOutcome.RETRYABLE and "no answer" in result.detail
    await asyncio.sleep(DELIVERY_DELAY * 3)
    assert await sms_centre.handset(mobile) == []


async def test_lost_answer_is_retryable_and_the_retry_does_not_deliver_twice(provider, sms_centre):
    mobile, message_id = fresh_mobile(), fresh_id()
    await sms_centre.arm(kind="answer_lost", recipient=mobile)
    lost = await provider.send(message_id, SENDER, mobile, "only once")
    assert lost.outcome is SendOutcome.RETRYABLE
    retried = await provider.send(message_id, SENDER, mobile, "only once")
    assert retried.accepted
    assert await wait_for_status(provider, message_id, DeliveryStatus.DELIVERED) is DeliveryStatus.DELIVERED
    assert [m["text"] for m in await sms_centre.handset(mobile)] == ["only once"]


async def test_refused_recipient_is_permanent(provider, sms_centre):
    mobile = fresh_mobile()
    await sms_centre.arm(kind="reject", recipient=mobile)
    result = await provider.send(fresh_id(), SENDER, mobile, "x")
    assert result.outcome is SendOutcome.PERMANENT and "invalid recipient" in result.detail


async def test_empty_text_is_permanent(provider, sms_centre):
    result = await provider.send(fresh_id(), SENDER, fresh_mobile(), "")
    assert result.outcome is SendOutcome.PERMANENT and "empty" in result.detail


async def test_unparseable_mobile_is_permanent_without_a_call(provider, sms_centre):
    await sms_centre.arm(kind="http_5xx")  # would turn any call into RETRYABLE
    result = await provider.send(fresh_id(), SENDER, "02112345678", "x")
    assert result.outcome is SendOutcome.PERMANENT


async def test_sender_outside_4040_raises(provider):
    with pytest.raises(ValueError):
        await provider.send(fresh_id(), "3000123", fresh_mobile(), "x")


async def test_undelivered_is_reported(provider, sms_centre):
    mobile, message_id = fresh_mobile(), fresh_id()
    await sms_centre.arm(kind="undelivered", recipient=mobile)
    assert (await provider.send(message_id, SENDER, mobile, "x")).accepted
    assert await wait_for_status(provider, message_id, DeliveryStatus.UNDELIVERED) is DeliveryStatus.UNDELIVERED
    assert await sms_centre.handset(mobile) == []


async def test_delayed_delivery_is_sent_before_delivered(provider, sms_centre):
    mobile, message_id = fresh_mobile(), fresh_id()
    await sms_centre.arm(kind="delayed_delivery", recipient=mobile, delay_s=0.3)
    assert (await provider.send(message_id, SENDER, mobile, "x")).accepted
    assert (await provider.status([message_id]))[message_id] is DeliveryStatus.SENT
    assert await wait_for_status(provider, message_id, DeliveryStatus.DELIVERED) is DeliveryStatus.DELIVERED


async def test_status_of_many_with_an_unknown_id(provider):
    sent = [fresh_id() for _ in range(3)]
    for message_id in sent:
        assert (await provider.send(message_id, SENDER, fresh_mobile(), "x")).accepted
    await asyncio.sleep(DELIVERY_DELAY * 3)
    never_sent = fresh_id()
    statuses = await provider.status([*sent, never_sent])
    assert statuses == {**dict.fromkeys(sent, DeliveryStatus.DELIVERED), never_sent: DeliveryStatus.UNKNOWN}


@pytest.mark.parametrize("kind", ["payam_iran", "magfa", "kavenegar"])
async def test_unreachable_provider_never_raises(kind):
    adapter = create_sms_provider(kind, f"http://127.0.0.1:{free_port()}", CREDENTIALS[kind], timeout=1.0)
    try:
        result = await adapter.send("42", SENDER, fresh_mobile(), "x")
        statuses = await adapter.status(["42", "43"])
    finally:
        await adapter.close()
    assert result.outcome is SendOutcome.RETRYABLE
    assert statuses == {"42": DeliveryStatus.UNKNOWN, "43": DeliveryStatus.UNKNOWN}


async def test_payam_iran_sends_from_the_agencys_mask_and_other_providers_from_its_line(sms_centre):
    mobile, mask = fresh_mobile(), "SABTAHVAL"
    payam_iran = create_sms_provider("payam_iran", sms_centre.base_url, CREDENTIALS["payam_iran"], timeout=1.0)
    magfa = create_sms_provider("magfa", sms_centre.base_url, CREDENTIALS["magfa"], timeout=1.0)
    try:
        assert payam_iran.sender_for(SENDER, mask) == mask and payam_iran.sender_for(SENDER, None) == SENDER
        assert magfa.sender_for(SENDER, mask) == SENDER
        assert (await payam_iran.send(fresh_id(), mask, mobile, "x")).accepted
        with pytest.raises(ValueError):
            await magfa.send(fresh_id(), mask, mobile, "x")
    finally:
        await payam_iran.close()
        await magfa.close()
    await asyncio.sleep(DELIVERY_DELAY * 3)
    [delivered] = await sms_centre.handset(mobile)
    assert (delivered["api"], delivered["sender"]) == ("payam_iran", mask)


# --- many messages at once ------------------------------------------------------------------

# The route each provider's sends go to, and how many messages one call carries.
SEND_ROUTE = {
    "payam_iran": ("POST /payam-iran/api/v1/messages/batch", 100),
    "magfa": ("POST /api/http/sms/v2/send", 100),
    "kavenegar": ("POST /v1/{api_key}/sms/send.json", 1),
}


def outgoing(text: str = "x", sender: str = SENDER) -> OutgoingSms:
    return OutgoingSms(fresh_id(), sender, fresh_mobile(), text)


async def send_calls(sms_centre, kind: str) -> int:
    route, _ = SEND_ROUTE[kind]
    return (await sms_centre.calls()).get(route, 0)


async def test_a_batch_is_answered_message_by_message(provider, sms_centre):
    rejected = outgoing()
    await sms_centre.arm(kind="reject", recipient=rejected.recipient)
    batch = [
        outgoing("first"),
        rejected,
        outgoing(""),
        outgoing(sender="3000123"),
        OutgoingSms(fresh_id(), SENDER, "02112345678", "x"),
        outgoing("last"),
    ]
    results = await provider.send_many(batch)
    assert [result.outcome for result in results] == [
        SendOutcome.ACCEPTED,
        SendOutcome.PERMANENT,
        SendOutcome.PERMANENT,
        SendOutcome.PERMANENT,
        SendOutcome.PERMANENT,
        SendOutcome.ACCEPTED,
    ]
    assert "invalid recipient" in results[1].detail and "empty" in results[2].detail
    assert "4040" in results[3].detail
    _, per_call = SEND_ROUTE[provider.kind]
    # The sender and the mobile number are checked before any call; the rest go out together where the API can.
    assert await send_calls(sms_centre, provider.kind) == (1 if per_call > 1 else 4)
    await asyncio.sleep(DELIVERY_DELAY * 3)
    for message, result in zip(batch, results, strict=True):
        handset = await sms_centre.handset(message.recipient) if message.recipient.startswith("09") else []
        assert [m["mid"] for m in handset] == ([int(result.provider_message_id)] if result.accepted else [])


async def test_an_id_repeated_within_a_call_and_across_calls_reaches_the_handset_once(provider, sms_centre):
    once, other = outgoing("once"), outgoing("other")
    first = await provider.send_many([once, once, other])
    again = await provider.send_many([outgoing("new"), once])
    assert all(result.accepted for result in [*first, *again])
    assert first[0].provider_message_id == first[1].provider_message_id == again[1].provider_message_id
    assert first[0].provider_message_id != first[2].provider_message_id
    await asyncio.sleep(DELIVERY_DELAY * 3)
    assert [m["text"] for m in await sms_centre.handset(once.recipient)] == ["once"]
    assert [m["text"] for m in await sms_centre.handset(other.recipient)] == ["other"]


async def test_a_failed_call_makes_every_message_of_it_retryable(provider, sms_centre):
    batch = [outgoing() for _ in range(3)]
    await sms_centre.arm(kind="throttle", recipient=batch[1].recipient, retry_after=4)
    results = await provider.send_many(batch)
    _, per_call = SEND_ROUTE[provider.kind]
    if per_call > 1:
        assert [(r.outcome, r.retry_after) for r in results] == [(SendOutcome.RETRYABLE, 4)] * 3
    else:  # one call per message: only the throttled one is refused
        assert [r.outcome for r in results] == [SendOutcome.ACCEPTED, SendOutcome.RETRYABLE, SendOutcome.ACCEPTED]
    await asyncio.sleep(DELIVERY_DELAY * 3)
    assert [len(await sms_centre.handset(m.recipient)) for m in batch] == [r.accepted for r in results]
    assert all(r.accepted for r in await provider.send_many(batch))
    await asyncio.sleep(DELIVERY_DELAY * 3)
    assert [len(await sms_centre.handset(m.recipient)) for m in batch] == [1, 1, 1]


@pytest.mark.parametrize("kind", ["payam_iran", "magfa", "kavenegar"])
@pytest.mark.parametrize("fault", ["timeout", "slow_answer"])
async def test_a_call_that_times_out_is_retried_and_nothing_reaches_a_handset_twice(kind, fault, sms_centre):
    impatient = create_sms_provider(kind, sms_centre.base_url, CREDENTIALS[kind], timeout=0.2)
    batch = [outgoing(f"m{n}") for n in range(3)]
    await sms_centre.arm(kind=fault, hold_s=1.0)  # the next call: held without acting, or acted on and answered late
    try:
        timed_out = await impatient.send_many(batch)
        retried = await impatient.send_many(batch)
    finally:
        await impatient.close()
    assert any(r.outcome is SendOutcome.RETRYABLE and "no answer" in r.detail for r in timed_out)
    assert all(r.accepted for r in retried)
    await asyncio.sleep(DELIVERY_DELAY * 3)
    for message in batch:
        assert [m["text"] for m in await sms_centre.handset(message.recipient)] == [message.text]


async def test_a_large_batch_goes_in_calls_of_the_providers_size(sms_centre):
    payam_iran = create_sms_provider("payam_iran", sms_centre.base_url, CREDENTIALS["payam_iran"], timeout=2.0)
    batch = [outgoing(f"m{n}") for n in range(250)]
    try:
        results = await payam_iran.send_many(batch)
    finally:
        await payam_iran.close()
    assert all(result.accepted for result in results)
    assert len({result.provider_message_id for result in results}) == 250
    assert await send_calls(sms_centre, "payam_iran") == 3
