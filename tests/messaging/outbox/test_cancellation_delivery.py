"""A voided charge's cancellation reaches the citizen like its receipt did: one SMS and the signed cancellation
receipt in the Iran Poosheh inbox, through the same outbox."""

from __future__ import annotations

import uuid

from gateway.messaging import AuthenticityVerdict, PooshehInbox
from receipts.keys_files import load_keyring
from receipts.qr import verify_qr_payload
from tests.messaging.outbox.support import TERMINAL


async def test_the_cancellation_reaches_the_handset_and_the_inbox_once(
    gateway, keys, db, sms_centre, inbox, key_dir, completed_charges, outbox_settings, workers_for
):
    [(charge, recipient)] = await completed_charges(1)
    key = await keys(f"t:{TERMINAL}")
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/void",
        key=key,
        json={"reason": "agency_system_down", "reason_text": "سامانه ثبت احوال در دسترس نبود"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, void
    workers = workers_for(outbox_settings)
    await workers.dispatcher.run_until_idle()
    await workers.dispatcher.run_until_idle()

    confirmation, cancellation_sms = await sms_centre.handset(recipient.mobile)
    assert charge["tracking_code"] in confirmation["text"]
    assert void["cancellation_tracking_code"] in cancellation_sms["text"]
    assert charge["tracking_code"] in cancellation_sms["text"] and "ابطال" in cancellation_sms["text"]

    documents = {d["tracking_code"]: d for d in await inbox.inbox(recipient.inbox)}
    assert documents.keys() == {charge["tracking_code"], void["cancellation_tracking_code"]}
    stored = documents[void["cancellation_tracking_code"]]
    _, answer = await gateway.request("GET", f"/v1/receipts/{void['cancellation_tracking_code']}", key=key)
    published = {name: value for name, value in answer.items() if name != "qr_url"}  # the signed receipt alone
    assert stored["document"] == published
    assert published["receipt"]["kind"] == "cancellation"
    assert published["receipt"]["cancels"]["tracking_code"] == charge["tracking_code"]
    assert verify_qr_payload(stored["qr_payload"], load_keyring(key_dir).verifying).content.describes(published)
    rows = await db.fetch(
        "SELECT channel, status FROM outbox WHERE charge_id = $1 AND purpose = 'cancellation' ORDER BY channel",
        uuid.UUID(charge["id"]),
    )
    assert [(r["channel"], r["status"]) for r in rows] == [("poosheh", "delivered"), ("sms", "sent")]

    client = PooshehInbox(inbox.base_url, "auditor-token", timeout=2.0)
    try:
        vouched = await client.check_authenticity(void["cancellation_tracking_code"], stored["qr_payload"])
        assert vouched.verdict is AuthenticityVerdict.AUTHENTIC
    finally:
        await client.close()
