"""Delivery reports polled from the SMS centre, stored on the row and shown on the charge."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from tests.messaging.outbox.support import outbox_rows
from tests.messaging.outbox.test_dispatch import counter


async def poll_until_settled(workers, db, charges, within: float = 5.0) -> dict[str, dict]:
    """Runs the poller until no row of these charges awaits a report."""
    deadline = time.monotonic() + within
    while True:
        await workers.poller.run_once()
        rows = await outbox_rows(db, charges, "sms")
        if all(row["next_poll_at"] is None for row in rows.values()) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("provider_kind", ["payam_iran", "magfa", "kavenegar"])
async def test_reports_reach_the_row_and_the_charge(
    provider_kind, gateway, keys, db, sms_centre, completed_charges, outbox_settings, workers_for
):
    made = await completed_charges(3)
    (reached, _), (missed, missed_to), (late, late_to) = made
    await sms_centre.arm(kind="undelivered", recipient=missed_to.mobile)
    await sms_centre.arm(kind="delayed_delivery", recipient=late_to.mobile, delay_s=0.6)
    delivered_before, undelivered_before = counter("sms", "delivered"), counter("sms", "undelivered")
    workers = workers_for(dataclasses.replace(outbox_settings, sms_provider=provider_kind))
    await workers.dispatcher.run_until_idle()
    charges = [reached, missed, late]

    await asyncio.sleep(0.2)  # past the centre's delivery delay, not past the late one's
    await workers.poller.run_once()
    rows = await outbox_rows(db, charges, "sms")
    assert (rows[late["id"]]["status"], rows[late["id"]]["delivery_status"]) == ("sent", "sent")
    assert rows[late["id"]]["next_poll_at"] is not None

    rows = await poll_until_settled(workers, db, charges)
    assert [(rows[c["id"]]["status"], rows[c["id"]]["delivery_status"]) for c in charges] == [
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("delivered", "delivered"),
    ]
    for charge in charges:
        row = rows[charge["id"]]
        assert row["sent_at"] <= row["delivery_status_at"]
    assert counter("sms", "delivered") == delivered_before + 2
    assert counter("sms", "undelivered") == undelivered_before + 1

    status, view = await gateway.request("GET", f"/v1/charges/{missed['id']}", key=await keys("regulator"))
    assert status == 200
    sms = next(message for message in view["messages"] if message["channel"] == "sms")
    assert (sms["status"], sms["delivery_status"], sms["attempts"]) == ("undelivered", "undelivered", 1)
    assert sms["sent_at"] and sms["delivery_status_at"] and sms["provider_message_id"]


async def test_a_charge_not_yet_sent_shows_its_messages_pending(gateway, keys, completed_charges):
    [(charge, _)] = await completed_charges(1)
    status, view = await gateway.request("GET", f"/v1/charges/{charge['id']}", key=await keys("t:10000001"))
    assert status == 200
    assert [(m["channel"], m["status"], m["attempts"], m["delivery_status"]) for m in view["messages"]] == [
        ("poosheh", "pending", 0, None),
        ("sms", "pending", 0, None),
    ]
