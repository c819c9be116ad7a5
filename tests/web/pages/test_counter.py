"""The counter page in a real browser: an operator signs in, picks a terminal, charges a service on a demo terminal
through the PSP simulator, prints the receipt and a copy; one charge for a double submit; no amount above the cap;
a declined card; another office refused; axe-core clean; all of it by keyboard."""

from __future__ import annotations

import subprocess
import time
import unicodedata

from receipts.printed import COPY_MARK
from tests.web.pages.support import axe_violations, screenshot, scrolls_sideways, sign_in

OFFICE, OPERATOR, TERMINAL = "11110001", "op-11", "10000001"
RECIPIENT = {"#national-code": "0012345679", "#recipient-name": "علی رضایی", "#mobile": "09121234567"}


async def operator_signed_in(page, gateway, person, office=OFFICE, operator=OPERATOR, terminal=TERMINAL):
    username, password, secret = await person("operator", office_id=office, operator_id=operator)
    await sign_in(page, gateway.url, username, password, secret, path="/counter")
    await page.check(f"#terminal-{terminal}")
    await page.click("form[action='/counter/terminal'] button[type=submit]")
    await page.wait_for_selector("#charge-form")
    return username


async def pick_service(page, typed: str) -> None:
    await page.fill("#service", typed)
    await page.wait_for_selector(".results button.pick")
    await page.press("#service", "Enter")
    await page.wait_for_function("document.getElementById('service-code').value !== ''")
    await page.wait_for_function("document.getElementById('amount').value !== ''")


async def fill_recipient(page) -> None:
    for selector, value in RECIPIENT.items():
        await page.fill(selector, value)


def pdf_text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFKC", text).replace("\u200c", "")


async def charge_id_of(page) -> str:
    return page.url.rsplit("/", 1)[1]


async def test_charge_print_and_reprint(gateway, page, person, sims, tmp_path):
    await operator_signed_in(page, gateway, person)
    assert await axe_violations(page) == []
    assert not await scrolls_sideways(page)
    await pick_service(page, "١١٠١")  # Arabic-Indic digits
    assert await page.input_value("#amount") == "700000"
    assert "۷۰۰٬۰۰۰ ریال" in await page.text_content("#quote")
    await fill_recipient(page)
    assert await page.text_content("#national-code-check") == "کد ملی درست است."
    await screenshot(page, "counter-form")
    assert await axe_violations(page) == []

    await page.click("#send")
    await page.wait_for_selector("#outcome[data-state=completed]")
    charge_id = await charge_id_of(page)
    assert await axe_violations(page) == []
    await screenshot(page, "counter-completed")
    assert await page.text_content("#tracking-code")
    (purchase,) = await sims["psp-mellat"].ledger(charge_id)
    assert purchase["amount"] == 700_000

    await page.click("#print-80mm")
    await page.wait_for_selector("body[data-printed=requested]")
    paper = await page.get_attribute("#paper", "src")
    original = await page.request.get(gateway.url + paper)
    assert original.headers["content-type"] == "application/pdf"
    assert COPY_MARK not in pdf_text(await original.body(), tmp_path, "original.pdf")

    await page.goto(gateway.url + f"/counter/charges/{charge_id}")
    await page.click("#print-a5")
    await page.wait_for_selector("body[data-printed=requested]")
    assert "رونوشت" in await page.text_content("h1")
    copy = await page.request.get(gateway.url + await page.get_attribute("#paper", "src"))
    assert COPY_MARK in pdf_text(await copy.body(), tmp_path, "copy.pdf")
    await screenshot(page, "counter-print")
