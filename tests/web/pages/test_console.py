"""The regulator's console in a real browser: a refused excess-fee attempt made through the API shows in the overview
and on the office page after a detection pass, down to its evidence; the page's CSV equals the API's list; the
receipt chain audit runs on the server; a provincial inspector cannot open another province's office; axe-core
finds no serious violation on any page."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.access.store import create_api_key
from gateway.oversight.detection import run_detection
from tests.oversight.support import recipient
from tests.stack import charge_body
from tests.web.pages.support import axe_violations, raw_codes_shown, screenshot, scrolls_sideways, sign_in

TEHRAN_OFFICE = "11110001"
WINDOW = timedelta(minutes=30)


async def _refused_over_cap_then_detected(gateway, keys, db) -> dict:
    since = datetime.now(UTC) - timedelta(seconds=1)
    terminal = await keys("t:10000001")
    assert (await gateway.charge(terminal, charge_body(recipient=recipient())))[0] == 201
    status, answer = await gateway.charge(terminal, charge_body(recipient=recipient(), amount=4_200_000))
    assert status == 422 and answer["error"]["code"] == "excess_fee"
    # The detection pass the gateway's background process runs every PISHKHAN_OVERSIGHT_INTERVAL_S.
    report = await run_detection(db, gateway.services.state.tariffs, window=WINDOW, rescan=timedelta(minutes=10))
    assert report is not None and report.scanned_to >= since
    return answer["error"]["details"]


async def test_an_excess_fee_attempt_shows_in_the_overview_and_on_the_office_page(gateway, keys, db, page, person):
    refused = await _refused_over_cap_then_detected(gateway, keys, db)
    username, password, secret = await person("regulator")
    await sign_in(page, gateway.url, username, password, secret, path="/console")
    assert page.url == gateway.url + "/console"
    await page.wait_for_function("document.getElementById('trend-chart')?.dataset !== undefined")
    assert await axe_violations(page) == []
    assert not await scrolls_sideways(page)
    assert await raw_codes_shown(page) == []
    await screenshot(page, "console-overview")

    await page.click("a[href^='/console/findings?type=excess_fee']")
    assert await axe_violations(page) == []
    finding = page.locator("article.finding").filter(has_text=str(refused["requested"]))
    await finding.locator("summary").click()
    assert await finding.locator("dl.evidence").is_visible()

    await page.goto(gateway.url + f"/console/offices/{TEHRAN_OFFICE}")
    assert await axe_violations(page) == []
    refusal_rows = await page.locator("#refusals tbody tr").all_text_contents()
    assert any("مبلغ بیش از سقف تعرفه" in row for row in refusal_rows)
    charge_states = await page.locator("#charges tbody td:nth-child(5)").all_text_contents()
    assert "انجام شد" in charge_states
    assert await page.locator("#negative-indicators").text_content() != "۰"
    arithmetic = await page.locator("ol.arithmetic li").all_text_contents()
    assert arithmetic and not any(re.search("[A-Za-z0-9]", line) for line in arithmetic), arithmetic
    assert await raw_codes_shown(page) == []
    await screenshot(page, "console-office")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await screenshot(page, "console-office-desktop")
    await page.set_viewport_size({"width": 360, "height": 740})

    async with page.expect_download() as download_info:
        await page.click("#refusals-csv")
    download = await download_info.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    page_csv = list(csv.DictReader(io.StringIO(text)))
    status, api = await gateway.request(
        "GET", f"/v1/regulator/offices/{TEHRAN_OFFICE}/refusals?limit=1000", key=await keys("regulator")
    )
    assert status == 200
    assert [int(row["id"]) for row in page_csv] == [row["id"] for row in api["data"]]
    assert [row["requested"] for row in page_csv] == [str(row["requested"] or "") for row in api["data"]]

    viewed = await db.fetch("SELECT path FROM regulator_access_log WHERE key_id = $1", "person:" + username)
    assert {f"/console/offices/{TEHRAN_OFFICE}", f"/console/offices/{TEHRAN_OFFICE}/refusals.csv"} <= {
        row["path"] for row in viewed
    }

    await page.click("#chain-audit")
    assert "زنجیره سالم است" in await page.text_content("#audit-verdict")
    assert await axe_violations(page) == []


async def test_the_offices_list_filters_and_sorts(gateway, page, person):
    username, password, secret = await person("regulator")
    await sign_in(page, gateway.url, username, password, secret, path="/console/offices?kind=rural_ict")
    rows = await page.locator("tbody tr").all_text_contents()
    assert rows and all("روستایی" in row for row in rows)
    assert await axe_violations(page) == []
    await page.goto(gateway.url + "/console/offices?sort=province")
    provinces = [await cell.text_content() for cell in await page.locator("tbody tr td:nth-child(3)").all()]
    assert provinces == sorted(provinces)


async def test_a_provincial_inspector_cannot_open_another_province_s_office(gateway, db, page, person):
    username, password, secret = await person("regulator", province="اصفهان")
    await sign_in(page, gateway.url, username, password, secret, path="/console/offices")
    listed = await page.locator("tbody tr td:nth-child(3)").all_text_contents()
    assert set(listed) == {"اصفهان"}
    response = await page.goto(gateway.url + f"/console/offices/{TEHRAN_OFFICE}")
    assert response.status == 404
    response = await page.goto(gateway.url + f"/console/offices/{TEHRAN_OFFICE}/charges.csv")
    assert response.status == 404
    key = await create_api_key(db, role="regulator", province="اصفهان")
    status, body = await gateway.request("GET", f"/v1/regulator/offices/{TEHRAN_OFFICE}/charges", key=key)
    assert status == 404 and body["error"]["code"] == "resource_missing"


async def test_an_office_manager_cannot_open_the_console(gateway, page, person):
    username, password, secret = await person("office", office_id=TEHRAN_OFFICE)
    await sign_in(page, gateway.url, username, password, secret, path="/account")
    response = await page.goto(gateway.url + "/console")
    assert response.status == 403
