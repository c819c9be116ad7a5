"""A complaint filed through the pages with the code read from the SMS centre simulator, reaching the regulator's
list; upholding it adds a finding against the office and an SMS."""

from __future__ import annotations

import re

from tests.stack import charge_body
from tests.web.pages.support import axe_violations, new_mobile, screenshot, scrolls_sideways, sms_texts

SCRIPT = '<script>alert("x")</script> و <b>پررنگ</b>'


async def test_a_complaint_filed_through_the_form_reaches_the_regulator_and_upholding_it_is_a_finding(
    gateway, keys, sms_centre, db, page
):
    mobile = new_mobile()
    recipient = {"name": "علی رضایی", "national_code": "0012345679", "mobile": mobile}
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(recipient=recipient))
    assert status == 201
    (receipt_sms,) = await sms_texts(sms_centre, mobile)
    await page.goto(re.search(r"https?://\S+", receipt_sms).group(0))

    await page.click("text=ثبت شکایت دربارهٔ این رسید")
    assert await page.input_value("#tracking_code") == charge["tracking_code"]
    await page.fill("#mobile", mobile)
    assert not await scrolls_sideways(page)
    assert await axe_violations(page) == []
    await page.click("button[type=submit]")

    code_sms = (await sms_texts(sms_centre, mobile, count=2))[1]
    code = re.search(r"[0-9]{6}", code_sms).group(0)
    await page.fill("#code", code)
    await page.select_option("#category", "excess_fee")
    await page.fill("#text", SCRIPT)
    assert not await scrolls_sideways(page)
    assert await axe_violations(page) == []
    await screenshot(page, "complaint-form")
    await page.click("button[type=submit]")

    await page.wait_for_url(re.compile(r"/complaints/C-"))
    number = page.url.rsplit("/", 1)[1]
    assert "دریافت شد" in await page.inner_text("main")
    assert await axe_violations(page) == []
    await screenshot(page, "complaint-status")
    assert number in (await sms_texts(sms_centre, mobile, count=3))[2]

    regulator = await keys("regulator")
    status, listed = await gateway.request(
        "GET", "/v1/regulator/complaints?office_id=11110001&category=excess_fee", key=regulator
    )
    assert status == 200
    (mine,) = [item for item in listed["data"] if item["number"] == number]
    assert mine["text"] == SCRIPT and mine["tracking_code"] == charge["tracking_code"]

    status, decided = await gateway.request(
        "PATCH", f"/v1/regulator/complaints/{number}", key=regulator, json={"status": "upheld", "note": "بررسی شد"}
    )
    assert status == 200 and decided["status"] == "upheld"
    finding = await db.fetchrow("SELECT type, amount FROM violations WHERE evidence_key = $1", f"complaint:{number}")
    assert (finding["type"], finding["amount"]) == ("excess_fee", charge["amount"])
    assert "وارد دانسته شد" in (await sms_texts(sms_centre, mobile, count=4))[3]

    await page.goto(f"{gateway.url}/complaints/{number}")
    assert "وارد دانسته شد" in await page.inner_text("main")
    status, csv = await gateway.request("GET", "/v1/regulator/complaints?format=csv", key=regulator)
    assert status == 200 and number.encode() in csv
