"""Exactly one SMS per completed charge, none for declined or refused ones, whatever the provider does.

The SMS centre's handset log (`GET /control/messages?recipient=`) is the oracle: what reached each phone."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from gateway.core.clock import system_clock as utcnow
from gateway.messaging.outbox import store as outbox_store
from gateway.platform.partitions import month_start
from tests.messaging.outbox.support import TERMINAL, body_for, new_recipient, outbox_rows
from tests.query_plans import index_of_table, month_partition, plan_nodes


def counter(channel: str, event: str) -> float:
    return REGISTRY.get_sample_value("pishkhan_outbox_messages_total", {"channel": channel, "event": event}) or 0.0


# Service 1101 is the civil registry's (gateway/registry/demo.toml): its line, and its mask where the provider carries
# masks (Payam Iran).
SENDER_OF = {"payam_iran": "SABTAHVAL", "magfa": "40401100", "kavenegar": "40401100"}


@pytest.mark.parametrize("provider_kind", ["payam_iran", "magfa", "kavenegar"])
async def test_one_sms_per_completed_charge_and_none_for_declined_or_refused(
    provider_kind, gateway, keys, sims, db, sms_centre, inbox, completed_charges, outbox_settings, workers_for
):
    completed = await completed_charges(3)
    key = await keys(f"t:{TERMINAL}")
    declined, excess, cash = new_recipient(), new_recipient(), new_recipient()
    await sims["psp-mellat"].script(TERMINAL, "decline:51")
    assert (await gateway.charge(key, body_for(declined)))[0] == 402
    assert (await gateway.charge(key, body_for(excess, amount=900_000_000)))[0] == 422
    assert (await gateway.charge(key, body_for(cash, payment_method="cash")))[0] == 422

    workers = workers_for(dataclasses.replace(outbox_settings, sms_provider=provider_kind))
    await workers.dispatcher.run_until_idle()
    await workers.dispatcher.run_until_idle()  # a second pass finds nothing more to send

    rows = await outbox_rows(db, [charge for charge, _ in completed], "sms")
    for charge, recipient in completed:
        handset = await sms_centre.handset(recipient.mobile)
        assert len(handset) == 1, handset
        assert handset[0]["text"] == rows[charge["id"]]["payload"]["text"]
        assert charge["tracking_code"] in handset[0]["text"]
        assert handset[0]["sender"] == SENDER_OF[provider_kind]
        assert handset[0]["api"] == provider_kind
        row = rows[charge["id"]]
        assert (row["status"], row["attempts"], row["delivery_status"]) == ("sent", 1, "queued")
        assert row["provider_message_id"] == str(handset[0]["mid"])
        assert len(await inbox.inbox(recipient.inbox)) == 1
    for recipient in (declined, excess, cash):
        assert await sms_centre.handset(recipient.mobile) == []
        assert await inbox.inbox(recipient.inbox) == []


@pytest.mark.parametrize("provider_kind", ["payam_iran", "magfa", "kavenegar"])
async def test_provider_faults_neither_lose_nor_duplicate(
    provider_kind, db, sms_centre, completed_charges, outbox_settings, workers_for
):
    made = await completed_charges(4)
    faults = [
        {"kind": "http_5xx", "status": 502},
        {"kind": "timeout", "hold_s": 1.5},
        {"kind": "throttle", "retry_after": 1},
        {"kind": "answer_lost"},
    ]
    for (_, recipient), fault in zip(made, faults, strict=True):
        await sms_centre.arm(**fault, recipient=recipient.mobile)
    workers = workers_for(dataclasses.replace(outbox_settings, sms_provider=provider_kind))
    charges = [charge for charge, _ in made]

    await workers.dispatcher.run_once()
    first = await outbox_rows(db, charges, "sms")
    for charge, _ in made:
        row = first[charge["id"]]
        assert (row["status"], row["attempts"]) == ("pending", 1), row
        assert row["last_error"]

    await workers.dispatcher.run_until_idle()
    final = await outbox_rows(db, charges, "sms")
    # One call per message meets only its own fault. Where calls carry many messages, a call meets the first fault
    # armed for any of its recipients and every message of it tries again; backoff jitter may part them later.
    one_by_one = workers.dispatcher.channels["sms"].provider.max_batch == 1
    for charge, recipient in made:
        assert len(await sms_centre.handset(recipient.mobile)) == 1
        row = final[charge["id"]]
        assert (row["status"], row["last_error"]) == ("sent", None)
        assert row["attempts"] == 2 if one_by_one else 2 <= row["attempts"] <= 1 + len(faults)


@pytest.mark.parametrize("provider_kind", ["payam_iran", "magfa", "kavenegar"])
async def test_a_throttled_message_waits_as_long_as_it_was_told_and_others_back_off(
    provider_kind, db, sms_centre, completed_charges, outbox_settings, workers_for
):
    (failing, failing_to), (throttled, throttled_to) = await completed_charges(2)
    await sms_centre.arm(kind="http_5xx", status=502, recipient=failing_to.mobile)
    await sms_centre.arm(kind="throttle", retry_after=1, recipient=throttled_to.mobile)
    workers = workers_for(dataclasses.replace(outbox_settings, sms_provider=provider_kind))

    await workers.dispatcher.run_once()

    rows = await outbox_rows(db, [failing, throttled], "sms")
    wait = {charge_id: row["next_attempt_at"] - row["updated_at"] for charge_id, row in rows.items()}
    if workers.dispatcher.channels["sms"].provider.max_batch == 1:
        # Exponential backoff from 0.05 s with jitter for the failed call; the throttled one waits as told.
        assert timedelta(seconds=0.025) <= wait[failing["id"]] <= timedelta(seconds=0.05)
        assert wait[throttled["id"]] >= timedelta(seconds=1)
    else:  # both went in one call, which met the first armed fault: both back off alike
        assert all(timedelta(seconds=0.025) <= w <= timedelta(seconds=0.05) for w in wait.values()), wait
        await asyncio.sleep(0.06)
        await workers.dispatcher.run_once()  # the next call meets the throttle: both wait as told
        rows = await outbox_rows(db, [failing, throttled], "sms")
        assert all(row["next_attempt_at"] - row["updated_at"] >= timedelta(seconds=1) for row in rows.values())


async def test_out_of_attempts_is_a_dead_letter_in_metrics_and_in_the_charge(
    gateway, keys, db, sms_centre, completed_charges, outbox_settings, workers_for
):
    workers = workers_for(dataclasses.replace(outbox_settings, outbox_max_attempts=3))
    await workers.dispatcher.run_until_idle()  # what earlier tests left pending would share the failing calls
    [(charge, recipient)] = await completed_charges(1)
    await sms_centre.arm(kind="http_5xx", status=503, recipient=recipient.mobile, count=3)
    dead_before, retried_before = counter("sms", "dead"), counter("sms", "retried")

    await workers.dispatcher.run_until_idle()

    row = (await outbox_rows(db, [charge], "sms"))[charge["id"]]
    assert (row["status"], row["attempts"]) == ("dead", 3)
    assert "503" in row["last_error"]
    assert await sms_centre.handset(recipient.mobile) == []
    assert counter("sms", "dead") == dead_before + 1
    assert counter("sms", "retried") == retried_before + 2
    status, view = await gateway.request("GET", f"/v1/charges/{charge['id']}", key=await keys("regulator"))
    assert status == 200
    by_channel = {message["channel"]: message for message in view["messages"]}
    assert by_channel["sms"]["status"] == "dead" and by_channel["sms"]["attempts"] == 3
    assert by_channel["sms"]["recipient"] == recipient.mobile[:4] + "***" + recipient.mobile[7:]
    assert by_channel["poosheh"]["status"] == "delivered"
    assert by_channel["poosheh"]["recipient"] == "iran******" + recipient.national_code[6:]


async def test_a_refused_recipient_fails_at_once(db, sms_centre, completed_charges, outbox_settings, workers_for):
    [(charge, recipient)] = await completed_charges(1)
    await sms_centre.arm(kind="reject", recipient=recipient.mobile)
    failed_before = counter("sms", "failed")

    await workers_for(outbox_settings).dispatcher.run_until_idle()

    row = (await outbox_rows(db, [charge], "sms"))[charge["id"]]
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "invalid recipient" in row["last_error"]
    assert counter("sms", "failed") == failed_before + 1
    assert await sms_centre.handset(recipient.mobile) == []


async def test_a_dispatcher_that_lost_its_lease_changes_nothing(db, pool, completed_charges):
    [(charge, _)] = await completed_charges(1)
    row_id = (await outbox_rows(db, [charge], "sms"))[charge["id"]]["id"]
    lease = timedelta(seconds=0.2)

    def ours(claimed):
        return [message for message in claimed if message.id == row_id]

    now = utcnow()
    [stale] = ours(await outbox_store.claim_due_messages(pool, now, now + lease, 100))
    assert ours(await outbox_store.claim_due_messages(pool, now, now + lease, 100)) == []  # held by the lease
    await asyncio.sleep(lease.total_seconds() + 0.05)
    now = utcnow()
    [fresh] = ours(await outbox_store.claim_due_messages(pool, now, now + lease, 100))
    assert (stale.attempt, fresh.attempt) == (1, 2)

    assert await outbox_store.record_accepted(pool, [outbox_store.Acceptance(stale, "stale", None)], now) == set()
    assert not await outbox_store.record_given_up(pool, stale, "dead", "stale", now)
    assert not await outbox_store.record_retry(pool, stale, now, "stale", now)
    assert await outbox_store.record_retry(pool, fresh, now, "fresh", now)
    row = (await outbox_rows(db, [charge], "sms"))[charge["id"]]
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 2, "fresh")


async def test_acceptances_of_a_batch_are_recorded_together_and_only_where_the_claim_held(db, pool, completed_charges):
    charges = [charge for charge, _ in await completed_charges(3)]
    row_ids = {row["id"] for row in (await outbox_rows(db, charges, "sms")).values()}
    lease = timedelta(seconds=0.2)

    def ours(claimed):
        return sorted((message for message in claimed if message.id in row_ids), key=lambda m: m.id)

    now = utcnow()
    stale = ours(await outbox_store.claim_due_messages(pool, now, now + lease, 100))
    await asyncio.sleep(lease.total_seconds() + 0.05)
    now = utcnow()
    fresh = ours(await outbox_store.claim_due_messages(pool, now, now + lease, 100))
    assert len(stale) == len(fresh) == 3

    batch = [
        outbox_store.Acceptance(stale[0], "old", None),
        outbox_store.Acceptance(fresh[1], "p-1", now + timedelta(minutes=1)),
        outbox_store.Acceptance(fresh[2], "p-2", None),
    ]
    assert await outbox_store.record_accepted(pool, batch, now) == {fresh[1].id, fresh[2].id}
    assert await outbox_store.record_accepted(pool, batch, now) == set()  # recorded once, then no longer claimed
    rows = {row["id"]: row for row in (await outbox_rows(db, charges, "sms")).values()}
    assert (rows[fresh[0].id]["status"], rows[fresh[0].id]["provider_message_id"]) == ("pending", None)
    assert (rows[fresh[1].id]["status"], rows[fresh[1].id]["provider_message_id"]) == ("sent", "p-1")
    assert (rows[fresh[2].id]["status"], rows[fresh[2].id]["provider_message_id"]) == ("delivered", "p-2")


async def test_recording_acceptances_goes_by_primary_key_when_the_statistics_say_nothing_is_pending(db):
    """A large outbox is nearly all delivered messages, and its statistics say so. A plan that trusted them and read
    the pending messages' index would read the whole backlog for every batch recorded."""
    transaction = db.transaction()
    await transaction.start()
    try:
        await db.execute(
            """INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, status)
               SELECT '11110001', gen_random_uuid(), 'sms', 'plan-' || g, '09120000000', '{}', 'delivered'
               FROM generate_series(1, 20000) AS g"""
        )
        # Only the month written: ANALYZE's row counts outlive the rollback, and an empty month analyzed here would
        # stay "known empty" for the tests that need a month never analyzed (test_claim_plans.py).
        await db.execute(f"ANALYZE {month_partition('outbox', month_start(utcnow()))}")
        batch = list(range(1, 51))
        now = utcnow()
        (plan,) = await db.fetchval(
            f"EXPLAIN (FORMAT JSON) {outbox_store.RECORD_ACCEPTED}",
            batch,
            [1] * len(batch),
            [None] * len(batch),
            [None] * len(batch),
            now,
            [now] * len(batch),
            now,
            now,
        )
        index_of = await index_of_table(db)
    finally:
        await transaction.rollback()
    scans = [
        node
        for node in plan_nodes(plan["Plan"])
        if node.get("Relation Name", "").startswith("outbox") and node["Node Type"].endswith("Scan")
    ]
    assert [index_of.get(node.get("Index Name")) for node in scans] == ["outbox_pkey"], scans


async def test_a_batch_goes_in_one_call_per_channel_and_each_message_keeps_its_own_outcome(
    db, sms_centre, inbox, completed_charges, outbox_settings, workers_for
):
    workers = workers_for(dataclasses.replace(outbox_settings, sms_provider="payam_iran", outbox_batch=200))
    await workers.dispatcher.run_until_idle()  # what earlier tests left pending, so the next claim is ours alone
    made = await completed_charges(6)
    charges = [charge for charge, _ in made]
    (_, refused_mobile), (_, closed_inbox) = made[1], made[2]
    await sms_centre.reset()
    await inbox.reset()
    await sms_centre.arm(kind="reject", recipient=refused_mobile.mobile)
    await inbox.arm(kind="reject", address=closed_inbox.inbox)

    assert await workers.dispatcher.run_once() == 2 * len(made)

    # Two calls for six completed charges, where one message was one call before.
    assert await sms_centre.calls() == {"POST /payam-iran/api/v1/messages/batch": 1}
    assert await inbox.calls() == {"POST /api/v1/documents/batch": 1}
    sms, receipts = await outbox_rows(db, charges, "sms"), await outbox_rows(db, charges, "poosheh")
    assert [sms[c["id"]]["status"] for c in charges] == ["sent", "failed", "sent", "sent", "sent", "sent"]
    assert [receipts[c["id"]]["status"] for c in charges] == [
        "delivered",
        "delivered",
        "failed",
        "delivered",
        "delivered",
        "delivered",
    ]
    assert "INVALID_RECIPIENT" in sms[charges[1]["id"]]["last_error"]
    assert "404" in receipts[charges[2]["id"]]["last_error"]
    await asyncio.sleep(0.2)  # the SMS centre's delivery delay
    for index, (_, recipient) in enumerate(made):
        assert len(await sms_centre.handset(recipient.mobile)) == (index != 1)
        assert len(await inbox.inbox(recipient.inbox)) == (index != 2)
