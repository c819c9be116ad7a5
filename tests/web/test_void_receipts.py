"""A voided charge's receipts through the API: the cancellation receipt and its printed forms, the public
verification of both, and the office's chain with the cancellation in it audited offline."""

from __future__ import annotations

import uuid
from datetime import timedelta

from gateway.receipt_book.store import issued_between
from receipts.audit import verify_chain
from receipts.signing import VerifyingKeyring
from tests.stack import charge_body

PERSONAL = ("علی رضایی", "0012345679", "09121234567", "آزمون")


async def _voided(gateway, keys) -> tuple[dict, dict]:
    key = await keys("t:10000004")
    status, charge = await gateway.charge(key, charge_body(terminal_id="10000004", operator_id="op-31"))
    assert status == 201, charge
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/void",
        key=key,
        json={"reason": "service_not_delivered", "reason_text": "آزمون: خدمت‌گیرنده پیش از ارایه خدمت رفت"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, void
    return charge, void


async def test_the_original_verifies_as_voided_and_the_cancellation_names_it(gateway, keys):
    charge, void = await _voided(gateway, keys)
    cancellation_code = void["cancellation_tracking_code"]

    status, original = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}/verify")
    assert status == 200 and original["genuine"] and original["kind"] == "receipt"
    assert original["voided"] is True
    assert original["voided_by"]["tracking_code"] == cancellation_code
    assert original["voided_by"]["reason"] == "service_not_delivered"
    assert original["voided_by"]["amount_returned"] == charge["amount"]

    status, cancellation = await gateway.request("GET", f"/v1/receipts/{cancellation_code}/verify")
    assert status == 200 and cancellation["genuine"] and cancellation["kind"] == "cancellation"
    assert cancellation["cancels"]["tracking_code"] == charge["tracking_code"]
    assert cancellation["cancels"]["matches_stored_receipt"] is True
    assert cancellation["chain"]["links_to_previous"] is True
    for answer in (original, cancellation):
        assert not any(value in str(answer) for value in PERSONAL)


async def test_the_cancellation_receipt_is_printed_like_a_receipt(gateway, keys):
    charge, void = await _voided(gateway, keys)
    key = await keys("t:10000004")
    code = void["cancellation_tracking_code"]
    status, signed = await gateway.request("GET", f"/v1/receipts/{code}", key=key)
    assert status == 200 and signed["receipt"]["cancels"]["tracking_code"] == charge["tracking_code"]
    for size in ("a5", "80mm"):
        status, pdf = await gateway.request("GET", f"/v1/receipts/{code}.pdf?size={size}", key=key)
        assert status == 200 and pdf.startswith(b"%PDF")
    status, text = await gateway.request("GET", f"/v1/receipts/{code}.txt", key=key)
    assert status == 200 and "رسید ابطال و استرداد وجه" in text.decode()
    status, _ = await gateway.request("GET", f"/v1/receipts/{code}", key=await keys("t:10000001"))
    assert status == 404  # another office's terminal


async def test_the_office_chain_with_its_cancellation_audits_clean_and_breaks_without_it(gateway, keys, db):
    charge, void = await _voided(gateway, keys)
    issued = await db.fetchval("SELECT issued_at FROM receipts WHERE tracking_code = $1", charge["tracking_code"])
    chain = await issued_between(db, "31110003", issued - timedelta(days=1), issued + timedelta(days=1))
    keys_list = gateway.services.keyring.public_keys()
    report = verify_chain(chain, VerifyingKeyring.from_public_keys(keys_list))
    assert report.ok, report.findings
    assert report.voided[charge["tracking_code"]] == void["cancellation_tracking_code"]

    # A further receipt after the cancellation, then the cancellation deleted from the export: the chain breaks.
    await gateway.charge(await keys("t:10000004"), charge_body(terminal_id="10000004", operator_id="op-31"))
    chain = await issued_between(db, "31110003", issued - timedelta(days=1), issued + timedelta(days=1))
    without = [r for r in chain if r["receipt"]["tracking_code"] != void["cancellation_tracking_code"]]
    findings = {f.kind.value for f in verify_chain(without, VerifyingKeyring.from_public_keys(keys_list)).findings}
    assert {"seq_gap", "broken_link"} <= findings
