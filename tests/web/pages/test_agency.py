"""An agency's own page in a real browser: the day's settlement statement of its services, with the totals and the
CSV of the agency statement API; an agency person sees only their own agency, and no page of the regulator or of
an office; axe-core finds no serious violation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jdatetime

from gateway.core.jalali import format_jalali_date
from gateway.core.text import format_rials, to_persian_digits
from tests.reconciliation.support import charge_cap, charge_day
from tests.web.pages.support import axe_violations, screenshot, scrolls_sideways, sign_in

POLICE_TERMINAL, POLICE_OPERATOR, PASSPORT = "10000002", "op-12", "2101"


def _jalali(iso_day: str) -> str:
    return format_jalali_date(jdatetime.date.fromgregorian(date=jdatetime.datetime.strptime(iso_day, "%Y-%m-%d")))


async def test_an_agency_person_reads_the_day_s_statement_and_its_csv(gateway, keys, page, person):
    charge = await charge_cap(gateway, await keys(f"t:{POLICE_TERMINAL}"), POLICE_TERMINAL, POLICE_OPERATOR, PASSPORT)
    day = charge_day(charge)
    staff = await person("agency", agency_id="police")
    await sign_in(page, gateway.url, *staff, path="/signin")
    assert page.url == gateway.url + "/agency"  # where an agency person lands

    await page.goto(gateway.url + f"/agency?day={_jalali(day)}")
    status, api = await gateway.request(
        "GET", f"/v1/agencies/police/settlements?date={day}&limit=1000", key=await keys("a:police")
    )
    assert status == 200
    rows = await page.locator("#statement tbody tr").all_text_contents()
    assert len(rows) == len(api["data"])
    assert any(to_persian_digits(charge["tracking_code"]) in row for row in rows)
    assert await page.text_content("#total-charges") == to_persian_digits(str(api["totals"]["charges"]))
    assert format_rials(api["totals"]["agency_share"]) in await page.text_content("#total-agency-share")
    assert await axe_violations(page) == []
    assert not await scrolls_sideways(page)
    await screenshot(page, "agency-statement")

    async with page.expect_download() as download_info:
        await page.click("#statement-csv")
    download = await download_info.value
    page_csv = await asyncio.to_thread(Path(await download.path()).read_bytes)
    status, api_csv = await gateway.request(
        "GET", f"/v1/agencies/police/settlements?date={day}&format=csv", key=await keys("a:police")
    )
    assert status == 200 and page_csv == api_csv


async def test_an_agency_person_sees_only_their_own_agency(gateway, keys, page, person):
    charge = await charge_cap(gateway, await keys(f"t:{POLICE_TERMINAL}"), POLICE_TERMINAL, POLICE_OPERATOR, PASSPORT)
    day = charge_day(charge)
    staff = await person("agency", agency_id="civil-registration")
    await sign_in(page, gateway.url, *staff, path=f"/agency?day={_jalali(day)}&agency_id=police")
    assert await page.text_content("h1 + p") and "ثبت احوال" in await page.text_content("h1 + p")
    assert to_persian_digits(charge["tracking_code"]) not in await page.text_content("main")
    response = await page.request.get(gateway.url + f"/agency/statement.csv?day={_jalali(day)}&agency_id=police")
    assert response.status == 200 and charge["tracking_code"] not in await response.text()
    for path in ("/console", "/console/offices/11110001", "/console/findings.csv", "/office", "/counter"):
        assert (await page.goto(gateway.url + path)).status == 403, path

    status, body = await gateway.request(
        "GET", f"/v1/agencies/police/settlements?date={day}", key=await keys("a:civil-registration")
    )
    assert status == 404 and body["error"]["code"] == "resource_missing"


async def test_an_office_manager_cannot_open_the_agency_page(gateway, page, person):
    manager = await person("office", office_id="11110001")
    await sign_in(page, gateway.url, *manager, path="/account")
    assert (await page.goto(gateway.url + "/agency")).status == 403
    assert (await page.request.get(gateway.url + "/agency/statement.csv")).status == 403
