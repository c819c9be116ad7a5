"""The citizen's receipt page behind the SMS link and the printed QR code of a real charge, in a real browser."""

from __future__ import annotations

import re
import subprocess

from gateway.core.identifiers import make_tracking_code
from gateway.core.text import to_persian_digits
from tests.stack import charge_body
from tests.web.pages.support import axe_violations, new_mobile, screenshot, scrolls_sideways, sms_texts

GENUINE = "این رسید معتبر است"
ALTERED = "این رسید دست‌کاری شده است"
AMOUNT = "۷۰۰٬۰۰۰ ریال"
SERVICE = "ثبت‌نام کارت هوشمند ملی"


async def _charge(gateway, keys, mobile: str, terminal: str = "10000001", operator: str = "op-11") -> dict:
    recipient = {"name": "علی رضایی", "national_code": "0012345679", "mobile": mobile}
    status, charge = await gateway.charge(
        await keys(f"t:{terminal}"), charge_body(terminal_id=terminal, operator_id=operator, recipient=recipient)
    )
    assert status == 201, charge
    return charge


async def _sms_link(sms_centre, mobile: str) -> str:
    (text,) = await sms_texts(sms_centre, mobile)
    return re.search(r"https?://\S+", text).group(0)


def _scanned_qr(pdf: bytes, tmp_path, name: str) -> str:
    """The text of the QR code on a printed receipt, rendered at 100 dpi and read by zbarimg."""
    (tmp_path / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", "-singlefile", tmp_path / f"{name}.pdf", tmp_path / name], check=True
    )
    scan = subprocess.run(["zbarimg", "-q", "--raw", tmp_path / f"{name}.png"], capture_output=True, check=True)
    return scan.stdout.decode().strip()


async def _shows_genuine_receipt(page, url: str) -> str:
    response = await page.goto(url)
    assert response.status == 200
    text = await page.inner_text("main")
    assert GENUINE in text and AMOUNT in text
    for personal in ("علی رضایی", "0012345679", "۰۰۱۲۳۴۵۶۷۹"):
        assert personal not in await page.content()
    assert not await scrolls_sideways(page)
    assert await axe_violations(page) == []
    return text


async def test_the_sms_link_and_the_printed_qr_open_a_genuine_receipt_with_its_amount(
    gateway, keys, sms_centre, page, tmp_path
):
    mobile = new_mobile()
    charge = await _charge(gateway, keys, mobile)

    link = await _sms_link(sms_centre, mobile)
    assert link.startswith(f"{gateway.url}/r/{charge['tracking_code']}/")
    text = await _shows_genuine_receipt(page, link)
    assert SERVICE in text
    await page.click("text=تعرفه‌های مصوب این دفتر")
    assert page.url == f"{gateway.url}/offices/11110001/tariffs"
    await page.go_back()
    await screenshot(page, "receipt-page")

    key = await keys("t:10000001")
    for size in ("80mm", "a5"):
        status, pdf = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}.pdf?size={size}", key=key)
        assert status == 200
        scanned = _scanned_qr(pdf, tmp_path, size)
        assert scanned == charge["qr_url"] and scanned.startswith(f"{gateway.url}/q/PK1.")
        assert SERVICE in await _shows_genuine_receipt(page, scanned)


async def test_the_tracking_code_alone_tells_only_that_the_receipt_exists_and_is_genuine(gateway, keys, page):
    charge = await _charge(gateway, keys, new_mobile())
    code = charge["tracking_code"]
    guessed_secret = "A" * 11
    for path in (f"/r/{code}", f"/r/{code}/{guessed_secret}"):
        response = await page.goto(gateway.url + path)
        assert response.status == 200
        text = await page.inner_text("main")
        assert GENUINE in text
        assert AMOUNT not in text and SERVICE not in text
    assert await axe_violations(page) == []
    await screenshot(page, "receipt-page-by-code")


async def test_a_receipt_altered_in_the_database_shows_as_altered(gateway, keys, sms_centre, db, page):
    mobile = new_mobile()
    charge = await _charge(gateway, keys, mobile, terminal="10000003", operator="op-21")
    link = await _sms_link(sms_centre, mobile)
    await db.execute(
        "UPDATE receipts SET signed = jsonb_set(signed, '{receipt,fields,4,value}', '500000') WHERE tracking_code = $1",
        charge["tracking_code"],
    )
    for url in (link, charge["qr_url"], f"{gateway.url}/r/{charge['tracking_code']}"):
        response = await page.goto(url)
        assert response.status == 200
        text = await page.inner_text("main")
        assert ALTERED in text and GENUINE not in text
        assert "۵۰۰٬۰۰۰" not in text  # an altered receipt's figures are not vouched for
    assert await axe_violations(page) == []
    await screenshot(page, "receipt-page-altered")


async def test_a_forged_qr_shows_as_altered(gateway, keys, page):
    charge = await _charge(gateway, keys, new_mobile())
    url = charge["qr_url"]
    forged = url[:-6] + ("A" if url[-6] != "A" else "B") + url[-5:]
    await page.goto(forged)
    text = await page.inner_text("main")
    assert ALTERED in text and AMOUNT not in text


async def test_unknown_receipts_get_a_persian_404_page(gateway, page):
    never_issued = make_tracking_code("11110001", 999_999_999)
    mistyped = never_issued[:-1] + str((int(never_issued[-1]) + 1) % 10)
    for path in (f"/r/{never_issued}", f"/r/{mistyped}/secret", "/q/PK1.not-a-payload.x", "/r/abc"):
        response = await page.goto(gateway.url + path)
        assert response.status == 404, path
        assert await page.text_content("h1") == "رسید پیدا نشد"
    assert not await scrolls_sideways(page)
    assert await axe_violations(page) == []


async def test_a_refunded_receipt_says_it_is_void_and_how_the_money_comes_back(
    gateway, keys, page, reversal_windows_closed
):
    charge = await _charge(gateway, keys, new_mobile())
    status, refund = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/refund",
        key=await keys("t:10000001"),
        json={"reason": "agency_system_down", "reason_text": "سامانه دستگاه پس از پرداخت قطع شد"},
        headers={"Idempotency-Key": new_mobile()},
    )
    assert status == 201, refund

    response = await page.goto(f"{gateway.url}/r/{charge['tracking_code']}")

    assert response.status == 200
    text = await page.inner_text("main")
    assert GENUINE in text and "این رسید باطل شده است" in text and "از طریق تسویه" in text
    assert to_persian_digits(refund["cancellation_tracking_code"]) in text
    assert await axe_violations(page) == []
    await screenshot(page, "receipt-page-refunded")
    await page.goto(f"{gateway.url}/r/{refund['cancellation_tracking_code']}")
    assert f"ابطالِ رسید {to_persian_digits(charge['tracking_code'])}" in await page.inner_text("main")
