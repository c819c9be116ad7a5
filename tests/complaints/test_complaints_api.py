"""Complaints through the API: the one-time code and what it never reveals, its limits, validation, the regulator's
decision (rejected counts nothing, decided stays decided) and the office's read-only list."""

from __future__ import annotations

from tests.complaints.support import file, queued_codes, receipt_for_new_mobile

OTP = "/v1/complaints/otp"


async def test_a_wrong_code_or_a_wrong_mobile_get_the_same_answer(gateway, keys, db):
    charge, mobile = await receipt_for_new_mobile(gateway, keys)
    other_mobile = "09129999999" if mobile != "09129999999" else "09128888888"
    code = charge["tracking_code"]
    right = await gateway.request("POST", OTP, json={"tracking_code": code, "mobile": mobile})
    wrong = await gateway.request("POST", OTP, json={"tracking_code": code, "mobile": other_mobile})
    assert right == wrong and right[0] == 202
    assert len(await queued_codes(db, mobile)) == 1 and await queued_codes(db, other_mobile) == []
    (sent,) = await queued_codes(db, mobile)
    wrong_code = f"{(int(sent) + 1) % 1_000_000:06d}"

    answers = [
        await file(gateway, code, mobile, wrong_code),
        await file(gateway, code, other_mobile, sent),
    ]
    assert answers[0] == answers[1]
    status, error = answers[0]
    assert status == 400 and error["error"]["code"] == "complaint_code_invalid" and error["error"]["param"] == "code"

    status, complaint = await file(gateway, code, mobile, sent)
    assert status == 201 and complaint["status"] == "received" and complaint["number"].startswith("C-")
    assert "text" not in complaint and "mobile" not in complaint
    assert (await file(gateway, code, mobile, sent))[1]["error"]["code"] == "complaint_code_invalid"  # used once


async def test_a_code_gives_way_after_five_wrong_tries_and_codes_are_limited_per_mobile(gateway, keys, db):
    charge, mobile = await receipt_for_new_mobile(gateway, keys)
    code = charge["tracking_code"]
    await gateway.request("POST", OTP, json={"tracking_code": code, "mobile": mobile})
    (sent,) = await queued_codes(db, mobile)
    for _ in range(5):
        await file(gateway, code, mobile, f"{(int(sent) + 7) % 1_000_000:06d}")
    assert (await file(gateway, code, mobile, sent))[0] == 400

    for _ in range(4):
        assert (await gateway.request("POST", OTP, json={"tracking_code": code, "mobile": mobile}))[0] == 202
    status, error = await gateway.request("POST", OTP, json={"tracking_code": code, "mobile": mobile})
    assert status == 429 and error["error"]["code"] == "rate_limited"


async def test_every_field_is_checked_with_a_persian_and_english_message(gateway, keys):
    charge, mobile = await receipt_for_new_mobile(gateway, keys)
    code = charge["tracking_code"]
    cases = {
        "tracking_code": {"tracking_code": code[:-1] + str((int(code[-1]) + 1) % 10)},
        "mobile": {"mobile": "12345"},
        "code": {"code": "12ab"},
        "category": {"category": "noise"},
        "text": {"text": " \x00\x07 "},
    }
    for param, change in cases.items():
        status, error = await file(gateway, code, mobile, "123456", **change)
        assert status == 400 and error["error"]["param"] == param, (param, error)
        english, persian = error["error"]["message"].split(" / ")
        assert english.isascii() and not persian.isascii()


async def test_a_rejected_complaint_counts_nothing_and_a_decision_stays(gateway, keys, db):
    charge, mobile = await receipt_for_new_mobile(gateway, keys, terminal="10000003", operator="op-21")
    code = charge["tracking_code"]
    await gateway.request("POST", OTP, json={"tracking_code": code, "mobile": mobile})
    (sent,) = await queued_codes(db, mobile)
    _, complaint = await file(gateway, code, mobile, sent, category="cash_demanded")
    number, regulator = complaint["number"], await keys("regulator")
    path = f"/v1/regulator/complaints/{number}"

    assert (await gateway.request("PATCH", path, key=regulator, json={"status": "under_review"}))[0] == 200
    assert (await gateway.request("PATCH", path, key=regulator, json={"status": "rejected"}))[0] == 200
    status, error = await gateway.request("PATCH", path, key=regulator, json={"status": "upheld"})
    assert status == 400 and error["error"]["param"] == "status"
    assert await db.fetchval("SELECT count(*) FROM violations WHERE evidence_key = $1", f"complaint:{number}") == 0
    texts = [r["payload"]["text"] for r in await db.fetch("SELECT payload FROM outbox WHERE recipient = $1", mobile)]
    assert sum(number in text for text in texts) == 3  # received, under review, rejected

    own = await gateway.request("GET", "/v1/offices/21110002/complaints", key=await keys("t:10000003"))
    assert own[0] == 200 and [c["number"] for c in own[1]["data"]] == [number]
    other = await gateway.request("GET", "/v1/offices/21110002/complaints", key=await keys("t:10000001"))
    assert other[0] == 404
    assert (await gateway.request("PATCH", path, key=await keys("t:10000003"), json={"status": "upheld"}))[0] == 403
    status, public = await gateway.request("GET", f"/v1/complaints/{number.lower()}")
    assert status == 200 and public["status"] == "rejected"
