"""The signed receipt in the citizen's Iran Poosheh inbox: once, with its QR payload, and vouched for by the inbox."""

from __future__ import annotations

import pytest

from gateway.messaging import AuthenticityVerdict, PooshehInbox
from receipts.keys_files import load_keyring
from receipts.qr import verify_qr_payload
from tests.messaging.outbox.support import outbox_rows


async def test_the_receipt_reaches_the_inbox_once_and_the_inbox_vouches_for_the_printed_copy(
    gateway, keys, db, inbox, key_dir, completed_charges, outbox_settings, workers_for
):
    [(charge, recipient), (_, other_recipient)] = await completed_charges(2)
    workers = workers_for(outbox_settings)
    await workers.dispatcher.run_until_idle()

    [stored] = await inbox.inbox(recipient.inbox)
    _, fetched = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}", key=await keys("t:10000001"))
    published = {part: fetched[part] for part in ("receipt", "signature")}  # without its unsigned qr_url
    assert stored["document"] == published == charge["receipt"]
    assert stored["tracking_code"] == charge["tracking_code"]
    assert stored["message_id"] == f"poosheh-{charge['id'].replace('-', '')}"
    qr = verify_qr_payload(stored["qr_payload"], load_keyring(key_dir).verifying)
    assert qr.ok and qr.content.describes(published)
    row = (await outbox_rows(db, [charge], "poosheh"))[charge["id"]]
    assert (row["status"], row["delivery_status"], row["attempts"]) == ("delivered", "delivered", 1)
    assert row["provider_message_id"] == stored["document_id"]

    client = PooshehInbox(inbox.base_url, "auditor-token", timeout=2.0)
    try:
        genuine = await client.check_authenticity(charge["tracking_code"], stored["qr_payload"])
        assert genuine.verdict is AuthenticityVerdict.AUTHENTIC and genuine.document == published
        [other_stored] = await inbox.inbox(other_recipient.inbox)
        # A printed receipt carrying another receipt's QR code is not this one.
        forged = await client.check_authenticity(charge["tracking_code"], other_stored["qr_payload"])
        assert forged.verdict is AuthenticityVerdict.MISMATCH
        unknown = await client.check_authenticity("111100000000000019")
        assert unknown.verdict is AuthenticityVerdict.NOT_FOUND
    finally:
        await client.close()


@pytest.mark.parametrize(
    "fault",
    [{"kind": "http_5xx", "status": 503}, {"kind": "timeout", "hold_s": 1.5}, {"kind": "throttle", "retry_after": 1}],
)
async def test_inbox_faults_neither_lose_nor_duplicate(
    fault, db, inbox, completed_charges, outbox_settings, workers_for
):
    [(charge, recipient)] = await completed_charges(1)
    await inbox.arm(**fault, address=recipient.inbox)

    await workers_for(outbox_settings).dispatcher.run_until_idle()

    assert len(await inbox.inbox(recipient.inbox)) == 1
    row = (await outbox_rows(db, [charge], "poosheh"))[charge["id"]]
    assert (row["status"], row["attempts"]) == ("delivered", 2)
