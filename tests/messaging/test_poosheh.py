"""The Iran Poosheh adapter against the inbox simulator."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from gateway.core.identifiers import InvalidIdentifier, make_tracking_code, parse_national_code
from gateway.core.recipients import parse_inbox_address
from gateway.messaging import AuthenticityVerdict, InboxDelivery, PooshehInbox, SendOutcome

_serial = itertools.count(100_000_000)


def fresh_national_code() -> str:
    first_nine = f"{next(_serial):09d}"
    for check_digit in "0123456789":
        try:
            return parse_national_code(first_nine + check_digit)
        except InvalidIdentifier:
            continue
    raise AssertionError(f"no check digit completes {first_nine}")


def fresh_receipt() -> tuple[str, dict, str]:
    tracking = make_tracking_code("10203040", next(_serial) % 999_999_999 + 1)
    document = {
        "tracking_code": tracking,
        "amount": 1_250_000,
        "service_name": "ثبت نام",
        "signature": "c2lnbmF0dXJl",
        "key_id": "k1",
    }
    return tracking, document, f"P1:{tracking}:c2ln"


@pytest.fixture
async def poosheh(inbox) -> PooshehInbox:
    adapter = PooshehInbox(inbox.base_url, token="office-agent-token", timeout=1.0)
    yield adapter
    await adapter.close()


def test_inbox_address_is_iran_and_an_identifier_valid_for_its_kind():
    assert parse_inbox_address("iran0012345679") == "iran0012345679"
    assert parse_inbox_address("iran10380284790") == "iran10380284790"
    assert parse_inbox_address("iran123456789012") == "iran123456789012"
    for wrong in ("iran0012345678", "iran10380284791", "0012345679", "iran", "iran00123456790123"):
        with pytest.raises(ValueError):
            parse_inbox_address(wrong)


async def test_delivered_receipt_lands_in_the_recipients_inbox(poosheh, inbox):
    code = fresh_national_code()
    tracking, document, qr = fresh_receipt()
    result = await poosheh.deliver("msg-1", f"iran{code}", document, tracking_code=tracking, qr_payload=qr)
    assert result.outcome is SendOutcome.ACCEPTED
    [stored] = await inbox.inbox(f"iran{code}")
    assert stored["document"] == document and stored["document_id"] == result.provider_message_id
    assert (stored["message_id"], stored["tracking_code"], stored["qr_payload"]) == ("msg-1", tracking, qr)


async def test_same_message_id_is_stored_once(poosheh, inbox):
    code = fresh_national_code()
    tracking, document, qr = fresh_receipt()
    first = await poosheh.deliver("msg-dup", f"iran{code}", document, tracking_code=tracking, qr_payload=qr)
    again = await poosheh.deliver("msg-dup", f"iran{code}", document, tracking_code=tracking, qr_payload=qr)
    assert first.accepted and again.accepted
    assert again.provider_message_id == first.provider_message_id
    assert len(await inbox.inbox(f"iran{code}")) == 1


async def test_server_error_is_retryable_and_the_retry_stores(poosheh, inbox):
    code = fresh_national_code()
    tracking, document, _ = fresh_receipt()
    await inbox.arm(kind="http_5xx", address=f"iran{code}")
    failed = await poosheh.deliver("msg-5xx", f"iran{code}", document, tracking_code=tracking)
    assert failed.outcome is SendOutcome.RETRYABLE
    assert await inbox.inbox(f"iran{code}") == []
    assert (await poosheh.deliver("msg-5xx", f"iran{code}", document, tracking_code=tracking)).accepted
    assert len(await inbox.inbox(f"iran{code}")) == 1


async def test_timeout_is_retryable_and_nothing_is_stored(inbox):
    impatient = PooshehInbox(inbox.base_url, token="t", timeout=0.2)
    code = fresh_national_code()
    tracking, document, _ = fresh_receipt()
    await inbox.arm(kind="timeout", address=f"iran{code}", hold_s=1.0)
    try:
        result = await impatient.deliver("msg-slow", f"iran{code}", document, tracking_code=tracking)
    finally:
        await impatient.close()
    assert result.outcome is SendOutcome.RETRYABLE
    assert await inbox.inbox(f"iran{code}") == []


async def test_an_invalid_address_is_permanent(poosheh):
    tracking, document, _ = fresh_receipt()
    result = await poosheh.deliver("msg-bad", "iran0012345678", document, tracking_code=tracking)
    assert result.outcome is SendOutcome.PERMANENT


async def test_missing_token_is_retryable_not_lost(inbox):
    anonymous = PooshehInbox(inbox.base_url, token="", timeout=1.0)
    tracking, document, _ = fresh_receipt()
    try:
        result = await anonymous.deliver("msg-anon", f"iran{fresh_national_code()}", document, tracking_code=tracking)
    finally:
        await anonymous.close()
    assert result.outcome is SendOutcome.RETRYABLE and "401" in result.detail


async def test_authenticity_of_a_printed_receipt(poosheh):
    tracking, document, qr = fresh_receipt()
    assert (
        await poosheh.deliver(
            "msg-auth", f"iran{fresh_national_code()}", document, tracking_code=tracking, qr_payload=qr
        )
    ).accepted

    genuine = await poosheh.check_authenticity(tracking, qr)
    assert genuine.verdict is AuthenticityVerdict.AUTHENTIC and genuine.document == document
    assert (await poosheh.check_authenticity(tracking)).verdict is AuthenticityVerdict.AUTHENTIC

    forged = await poosheh.check_authenticity(tracking, qr + "0")
    assert forged.verdict is AuthenticityVerdict.MISMATCH and forged.document is None

    unknown_tracking, _, _ = fresh_receipt()
    assert (await poosheh.check_authenticity(unknown_tracking)).verdict is AuthenticityVerdict.NOT_FOUND


async def test_authenticity_is_unknown_when_the_inbox_fails(poosheh, inbox):
    tracking, document, qr = fresh_receipt()
    assert (await poosheh.deliver("msg-x", f"iran{fresh_national_code()}", document, tracking_code=tracking)).accepted
    await inbox.arm(kind="http_5xx")
    assert (await poosheh.check_authenticity(tracking, qr)).verdict is AuthenticityVerdict.UNKNOWN
    assert (await poosheh.check_authenticity(tracking)).verdict is AuthenticityVerdict.AUTHENTIC


# --- many deliveries at once ----------------------------------------------------------------

BATCH_ROUTE = "POST /api/v1/documents/batch"


def fresh_delivery() -> InboxDelivery:
    tracking, document, qr = fresh_receipt()
    return InboxDelivery(f"msg-{next(_serial)}", f"iran{fresh_national_code()}", document, tracking, qr)


async def test_a_batch_is_answered_delivery_by_delivery_in_one_call(poosheh, inbox):
    refused = fresh_delivery()
    await inbox.arm(kind="reject", address=refused.address)
    malformed = dataclasses.replace(fresh_delivery(), address="iran0012345678")
    batch = [fresh_delivery(), refused, malformed, fresh_delivery()]
    results = await poosheh.deliver_many(batch)
    assert [r.outcome for r in results] == [
        SendOutcome.ACCEPTED,
        SendOutcome.PERMANENT,
        SendOutcome.PERMANENT,
        SendOutcome.ACCEPTED,
    ]
    assert "404" in results[1].detail
    assert (await inbox.calls())[BATCH_ROUTE] == 1
    for delivery, result in zip(batch, results, strict=True):
        stored = await inbox.inbox(delivery.address)
        assert [d["document_id"] for d in stored] == ([result.provider_message_id] if result.accepted else [])


async def test_a_message_id_repeated_within_a_call_and_across_calls_is_stored_once(poosheh, inbox):
    once, other = fresh_delivery(), fresh_delivery()
    first = await poosheh.deliver_many([once, once, other])
    again = await poosheh.deliver_many([fresh_delivery(), once])
    assert all(r.accepted for r in [*first, *again])
    assert first[0].provider_message_id == first[1].provider_message_id == again[1].provider_message_id
    assert len(await inbox.inbox(once.address)) == len(await inbox.inbox(other.address)) == 1


async def test_a_failed_call_makes_every_delivery_of_it_retryable(poosheh, inbox):
    batch = [fresh_delivery() for _ in range(3)]
    await inbox.arm(kind="http_5xx", address=batch[2].address, status=503)
    failed = await poosheh.deliver_many(batch)
    assert [r.outcome for r in failed] == [SendOutcome.RETRYABLE] * 3 and "503" in failed[0].detail
    assert [await inbox.inbox(d.address) for d in batch] == [[], [], []]
    assert all(r.accepted for r in await poosheh.deliver_many(batch))
    assert [len(await inbox.inbox(d.address)) for d in batch] == [1, 1, 1]


@pytest.mark.parametrize("fault", ["timeout", "slow_answer"])
async def test_a_call_that_times_out_is_retried_and_each_document_is_stored_once(fault, inbox):
    impatient = PooshehInbox(inbox.base_url, token="t", timeout=0.2)
    batch = [fresh_delivery() for _ in range(3)]
    await inbox.arm(kind=fault, hold_s=1.0)
    try:
        timed_out = await impatient.deliver_many(batch)
        retried = await impatient.deliver_many(batch)
    finally:
        await impatient.close()
    assert [r.outcome for r in timed_out] == [SendOutcome.RETRYABLE] * 3
    assert all(r.accepted for r in retried)
    assert [len(await inbox.inbox(d.address)) for d in batch] == [1, 1, 1]


async def test_a_large_batch_goes_in_calls_of_a_hundred(poosheh, inbox):
    results = await poosheh.deliver_many([fresh_delivery() for _ in range(150)])
    assert all(r.accepted for r in results)
    assert (await inbox.calls())[BATCH_ROUTE] == 2
