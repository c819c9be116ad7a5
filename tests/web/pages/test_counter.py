"""The counter page in a real browser: an operator signs in, picks a terminal, charges a service on a demo terminal
through the PSP simulator, prints the receipt and a copy; one charge for a double submit; no amount above the cap;
a declined card; another office refused; axe-core clean; all of it by keyboard."""

from __future__ import annotations

import subprocess
import time
import unicodedata
from datetime import UTC, datetime

import pyotp

from gateway.core.text import to_persian_digits
from receipts.printed import COPY_MARK
from tests.identity.support import fresh_subject, known_to_both
from tests.money_safety.support import drive_recovery
from tests.web.pages.support import axe_violations, screenshot, scrolls_sideways, sign_in

OFFICE, OPERATOR, TERMINAL = "11110001", "op-11", "10000001"
RECIPIENT = {"#national-code": "0012345679", "#recipient-name": "علی رضایی", "#mobile": "09121234567"}


# Headless chromium has no print dialog, and printing its PDF viewer's frame can crash the page: the frame's print()
# is recorded instead (window.printed counts the calls), which is what the print page is to do.
RECORD_PRINTS = """
    Object.defineProperty(HTMLIFrameElement.prototype, "contentWindow", {
        get() { return {focus() {}, print() { window.printed = (window.printed || 0) + 1; }}; },
    });
"""


async def printed_once(page) -> None:
    await page.wait_for_url("**/prints/*")
    await page.wait_for_function("document.body.dataset.printed === 'requested' && window.printed === 1")


async def operator_signed_in(page, gateway, person, office=OFFICE, operator=OPERATOR, terminal=TERMINAL):
    await page.add_init_script(RECORD_PRINTS)
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
    await printed_once(page)
    paper = await page.get_attribute("#paper", "src")
    original = await page.request.get(gateway.url + paper)
    assert original.headers["content-type"] == "application/pdf"
    assert COPY_MARK not in pdf_text(await original.body(), tmp_path, "original.pdf")

    await page.goto(gateway.url + f"/counter/charges/{charge_id}")
    await page.click("#print-a5")
    await printed_once(page)
    assert "رونوشت" in await page.text_content("h1")
    copy = await page.request.get(gateway.url + await page.get_attribute("#paper", "src"))
    assert COPY_MARK in pdf_text(await copy.body(), tmp_path, "copy.pdf")
    await screenshot(page, "counter-print")

    await page.click("#back")
    await page.wait_for_url(gateway.url + f"/counter/charges/{charge_id}")
    await page.wait_for_load_state("load")
    await page.keyboard.press("Alt+d")
    await page.wait_for_url(gateway.url + "/counter/today")
    assert f"/counter/charges/{charge_id}" in await page.inner_html("#charges")
    totals = await page.locator("#totals tbody tr").all_inner_texts()
    assert any(row.startswith("۱۱۰۱") for row in totals)
    assert await page.get_attribute("nav.counter a[data-shortcut=t]", "href") == f"/offices/{OFFICE}/tariffs"
    assert await axe_violations(page) == []
    await screenshot(page, "counter-today")


async def test_a_charge_without_a_clear_answer_says_what_happens_next(gateway, db, page, person, sims):
    await operator_signed_in(page, gateway, person, office="31110003", operator="op-31", terminal="10000004")
    await sims["psp-mellat"].script("10000004", "no_answer")
    await pick_service(page, "1101")
    await fill_recipient(page)
    # The page's own timer reads the charge again; a fake clock lets the test decide when, so the gateway's
    # background recovery cannot settle the charge before the pending page has been checked.
    await page.clock.install()
    since = datetime.now(UTC)
    await page.click("#send")
    await page.wait_for_selector("#outcome[data-state=sent]", timeout=20_000)
    assert "دوباره مبلغ نگیرید" in await page.text_content("main")
    assert await page.get_attribute("#outcome", "data-pending") is not None
    assert await axe_violations(page) == []
    await screenshot(page, "counter-pending")

    # Recovery follows the charge to its end (the terminal stays held until then); the next read shows the answer.
    await drive_recovery(gateway.services.recovery, db, since)
    async with page.expect_event("load", timeout=10_000):
        await page.clock.run_for(3000)
    assert await page.get_attribute("#outcome", "data-state") == "reversed"
    assert await page.get_attribute("#outcome", "data-pending") is None


async def test_a_double_submit_and_a_double_click_make_one_charge(gateway, page, person, sims):
    await operator_signed_in(page, gateway, person)
    await sims["psp-mellat"].pin_delay(TERMINAL, 1000)  # both sends reach the gateway while the card is awaited
    try:
        await pick_service(page, "1101")
        await fill_recipient(page)
        before = len(await sims["psp-mellat"].ledger())
        urls = await page.evaluate(
            """async () => {
                const data = new URLSearchParams(new FormData(document.getElementById('charge-form')));
                const send = () => fetch('/counter/charges', {method: 'POST', body: data});
                return (await Promise.all([send(), send()])).map((response) => response.url);
            }"""
        )
        assert urls[0] == urls[1] and "/counter/charges/" in urls[0]
        charge_id = urls[0].rsplit("/", 1)[1]
        assert len(await sims["psp-mellat"].ledger(charge_id)) == 1
        assert len(await sims["psp-mellat"].ledger()) == before + 1

        await page.goto(gateway.url + "/counter")
        await pick_service(page, "1101")
        await fill_recipient(page)
        await page.dblclick("#send")
        await page.wait_for_selector("#outcome[data-state=completed]")
        await page.reload()  # the answer's page, read again: no second charge
        await page.wait_for_selector("#outcome[data-state=completed]")
        assert len(await sims["psp-mellat"].ledger()) == before + 2
    finally:
        await sims["psp-mellat"].pin_delay(TERMINAL, 0)


async def test_an_amount_over_the_cap_cannot_be_sent(gateway, page, person, sims, db):
    await operator_signed_in(page, gateway, person)
    await pick_service(page, "ثبت نام کارت")
    await fill_recipient(page)
    await page.fill("#amount", "۸۰۰۰۰۰")
    assert "سقف" in await page.text_content("#amount-hint")
    before = len(await sims["psp-mellat"].ledger())
    await page.click("#send")
    assert page.url.endswith("/counter") and await page.is_hidden("#waiting")
    assert "سقف" in await page.evaluate("document.getElementById('amount').validationMessage")

    await page.fill("#amount", "650000")  # less than the cap is the office's choice
    await page.click("#send")
    await page.wait_for_selector("#outcome[data-state=completed]")
    assert "۶۵۰٬۰۰۰" in await page.text_content("main")
    assert len(await sims["psp-mellat"].ledger()) == before + 1

    await page.goto(gateway.url + "/counter")
    await pick_service(page, "1101")
    await fill_recipient(page)
    refused = "SELECT count(*) FROM refusals WHERE office_id = $1 AND reason = 'excess_fee'"
    refusals = await db.fetchval(refused, OFFICE)
    status, text = await page.evaluate(
        """async () => {
            const data = new URLSearchParams(new FormData(document.getElementById('charge-form')));
            data.set('amount', '800000');
            const response = await fetch('/counter/charges', {method: 'POST', body: data});
            return [response.status, await response.text()];
        }"""
    )
    assert status == 422  # sent around the form, the server refuses it and records the attempt for the regulator
    assert "پرداخت فرستاده نشد: مبلغ از سقف تعرفهٔ مصوب بیشتر است" in text and "سقف: ۷۰۰٬۰۰۰ ریال" in text
    assert await db.fetchval(refused, OFFICE) == refusals + 1
    assert len(await sims["psp-mellat"].ledger()) == before + 1


async def test_a_service_with_an_identity_inquiry_asks_the_birth_date_then_charges(
    gateway, page, person, registry, shahkar
):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    await operator_signed_in(page, gateway, person)  # the office offers 2103, whose recipient is looked up
    await page.fill("#service", "2103")
    await page.click(".results button.pick[data-code='2103']")
    await page.wait_for_function("document.getElementById('amount').value !== ''")
    await page.fill("#national-code", subject.recipient.identifier)
    await page.fill("#recipient-name", subject.name)
    await page.fill("#mobile", subject.mobile)
    await page.click("#send")
    await page.wait_for_selector("text=تاریخ تولد را به تقویم شمسی وارد کنید")
    assert (await registry.calls(), await shahkar.calls()) == (0, 0)  # nothing asked, nothing pushed

    await page.fill("#birth-date", to_persian_digits(subject.birth_date or ""))
    await page.click("#send")
    await page.wait_for_selector("#outcome[data-state=completed]")
    assert await registry.calls() >= 1 and await shahkar.calls() >= 1
    assert await axe_violations(page) == []


async def test_a_declined_card_shows_the_decline_in_persian(gateway, page, person, sims):
    await operator_signed_in(page, gateway, person)
    await sims["psp-mellat"].script(TERMINAL, "decline:51")
    await pick_service(page, "1101")
    await fill_recipient(page)
    await page.click("#send")
    await page.wait_for_selector("#outcome[data-state=declined]")
    assert await page.text_content("#decline") == "موجودی کارت کافی نیست."
    assert await page.is_hidden("#print-80mm") is True
    assert await axe_violations(page) == []
    await screenshot(page, "counter-declined")


async def test_an_operator_of_another_office_sees_nothing_of_this_one(gateway, page, person, browser, sims):
    await operator_signed_in(page, gateway, person)
    await pick_service(page, "1101")
    await fill_recipient(page)
    await page.click("#send")
    await page.wait_for_selector("#outcome[data-state=completed]")
    charge_path = page.url.removeprefix(gateway.url)
    tracking = await page.evaluate("document.querySelector('form[action*=prints]').getAttribute('action')")
    await page.click("#print-80mm")
    await printed_once(page)

    context = await browser.new_context(locale="fa-IR", timezone_id="Asia/Tehran")
    other = await context.new_page()
    try:
        username, password, secret = await person("operator", office_id="21110002", operator_id="op-21")
        await sign_in(other, gateway.url, username, password, secret, path="/counter")
        assert await other.locator("input[name=terminal_id]").evaluate_all("els => els.map(e => e.value)") == [
            "10000003"
        ]
        await context.add_cookies(
            [{"name": "pishkhan_counter_terminal", "value": TERMINAL, "url": gateway.url}]
        )  # a terminal of the first office, forced into the cookie, is not taken
        await other.goto(gateway.url + "/counter")
        assert await other.locator("#charge-form").count() == 0
        for path in (charge_path, tracking + "/1", tracking + "/1.pdf"):
            response = await other.goto(gateway.url + path)
            assert response.status == 404, path
        await other.goto(gateway.url + "/counter")
        status = await other.evaluate(
            """async ([terminal]) => {
                const token = document.querySelector('input[name=csrf_token]').value;
                const body = new URLSearchParams({csrf_token: token, terminal_id: terminal});
                return (await fetch('/counter/terminal', {method: 'POST', body})).status;
            }""",
            [TERMINAL],
        )
        assert status == 404
        regulator, password, secret = await person("regulator")
        await other.context.clear_cookies()
        await sign_in(other, gateway.url, regulator, password, secret, path="/account")
        assert (await other.goto(gateway.url + "/counter")).status == 403
    finally:
        await context.close()


async def test_the_whole_flow_by_keyboard_alone_timed_from_sign_in_to_printed_receipt(gateway, page, person, sims):
    """PIN entry excluded (the simulated cardholder answers at once): the figure is the page's own cost."""
    username, password, secret = await person("operator", office_id=OFFICE, operator_id="op-12")
    keyboard = page.keyboard
    await page.add_init_script(RECORD_PRINTS)
    started = time.perf_counter()
    await page.goto(gateway.url + "/counter")
    # The username field takes the focus itself (autofocus); typing before it has it would lose keys.
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'username'")
    await keyboard.type(username)
    await keyboard.press("Tab")
    await keyboard.type(password)
    await keyboard.press("Enter")
    await page.wait_for_selector("#code:focus")
    await keyboard.type(pyotp.TOTP(secret).now())
    await keyboard.press("Enter")
    await page.wait_for_selector("#terminal-10000001:focus")
    await keyboard.press("ArrowDown")  # the office's second terminal
    await keyboard.press("Enter")
    await page.wait_for_selector("#service:focus")
    await keyboard.type("1101")
    await page.wait_for_selector(".results button.pick[data-code='1101']")
    await keyboard.press("Enter")
    await page.wait_for_selector("#quantity:focus")
    await page.wait_for_function("document.getElementById('amount').value === '700000'")
    await keyboard.press("Alt+k")
    await keyboard.type(RECIPIENT["#national-code"])
    await keyboard.press("Tab")
    await keyboard.type(RECIPIENT["#recipient-name"])
    await keyboard.press("Tab")
    await keyboard.type(RECIPIENT["#mobile"])
    await keyboard.press("Alt+p")
    await page.wait_for_selector("#outcome[data-state=completed]")
    await page.wait_for_selector("#print-80mm:focus")
    await keyboard.press("Enter")
    await printed_once(page)
    elapsed = time.perf_counter() - started
    print(f"\ncounter flow, sign-in to printed receipt: {elapsed:.2f} s")
    assert elapsed < 10
