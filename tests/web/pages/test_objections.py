"""An office's own view and its objection to a finding, in a real browser: the notice (an SMS to the manager and a line
on the page), the objection with a PDF (a file that only claims to be a PDF is refused), the inspector's decision,
the scorecard without the upheld finding, the history that cannot be rewritten, and the seven days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.core.errors import ObjectionRefused
from gateway.oversight import objections
from gateway.oversight.detection import detect_range
from gateway.oversight.objections import notify_new_findings
from tests.oversight.support import recipient
from tests.stack import charge_body
from tests.web.pages.support import axe_violations, raw_codes_shown, screenshot, sign_in

RASHT = "21110002"
MANAGER_MOBILE = "09121110002"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def _finding_at_rasht(gateway, keys, db) -> int:
    since = datetime.now(UTC) - timedelta(seconds=1)
    body = charge_body(terminal_id="10000003", operator_id="op-21", recipient=recipient(), amount=6_000_000)
    status, answer = await gateway.charge(await keys("t:10000003"), body)
    assert status == 422 and answer["error"]["code"] == "excess_fee"
    await detect_range(db, gateway.services.state.tariffs, timedelta(minutes=30), since, datetime.now(UTC))
    assert await notify_new_findings(db, datetime.now(UTC)) >= 1
    return await db.fetchval("SELECT max(id) FROM violations WHERE office_id = $1", RASHT)


async def _negative_indicators(gateway, keys) -> int:
    status, card = await gateway.request("GET", f"/v1/regulator/offices/{RASHT}/scorecard", key=await keys("regulator"))
    assert status == 200
    return card["negative_indicators"]


async def test_an_office_objects_and_the_regulator_upholds(gateway, keys, db, browser, person):
    manager = await person("office", office_id=RASHT, mobile=MANAGER_MOBILE)
    finding_id = await _finding_at_rasht(gateway, keys, db)
    notice = await db.fetchrow(
        "SELECT payload FROM outbox WHERE recipient = $1 AND charge_id IS NULL ORDER BY id DESC LIMIT 1",
        MANAGER_MOBILE,
    )
    assert "ظرف مدت هفت روز" in notice["payload"]["text"]
    before = await _negative_indicators(gateway, keys)

    office_context = await browser.new_context(viewport={"width": 360, "height": 740}, locale="fa-IR", bypass_csp=True)
    page = await office_context.new_page()
    await sign_in(page, gateway.url, *manager, path="/office")
    finding = page.locator(f"#finding-{finding_id}")
    assert "مهلت اعتراض تا" in await finding.locator(".notice").text_content()
    assert await axe_violations(page) == []

    await finding.locator("textarea").fill("مبلغ اضافه برای خدمت فوری بود و رسید جداگانه دارد.")
    await finding.locator("input[type=file]").set_input_files(
        [{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"<html>not a pdf</html>"}]
    )
    await finding.locator("button[type=submit]").click()
    assert "فقط PDF یا تصویر" in await page.text_content("[role=alert]")

    finding = page.locator(f"#finding-{finding_id}")
    await finding.locator("textarea").fill("مبلغ اضافه برای خدمت فوری بود و رسید جداگانه دارد.")
    await finding.locator("input[type=file]").set_input_files(
        [{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    await finding.locator("button[type=submit]").click()
    assert await finding.locator(".objection-state").text_content() == "در انتظار رسیدگی"
    assert await finding.locator("form.objection").count() == 0
    assert await axe_violations(page) == []
    assert await raw_codes_shown(page) == []
    await screenshot(page, "office-objection")
    await office_context.close()

    inspector = await person("regulator")
    regulator_context = await browser.new_context(
        viewport={"width": 360, "height": 740}, locale="fa-IR", bypass_csp=True
    )
    page = await regulator_context.new_page()
    await sign_in(page, gateway.url, *inspector, path="/console/objections?state=open")
    objection = page.locator("article.objection").filter(has_text="رسید جداگانه")
    async with page.expect_download() as download:
        await objection.locator("ul.attachments a").click()
    assert (await (await download.value).path()).read_bytes() == PDF
    assert await axe_violations(page) == []
    await objection.locator("input[value=upheld]").check()
    await objection.locator("textarea").fill("رسید جداگانهٔ خدمت فوری ارائه شد.")
    await screenshot(page, "console-objection")
    await objection.locator("button[type=submit]").click()
    await page.goto(gateway.url + "/console/objections?state=upheld")
    assert "پذیرفته شد" in await page.text_content("main")
    # The finding stays on the office's page, marked, and the overview counts it apart.
    await page.goto(gateway.url + f"/console/offices/{RASHT}")
    mark = page.locator(f"article.finding:has(#finding-{finding_id}) .set-aside")
    assert "کنارگذاشته با پذیرش اعتراض" in await mark.text_content()
    assert await page.locator("article.finding .set-aside").count() == 1
    await page.goto(gateway.url + "/console")
    assert await page.text_content("#set-aside-count") != "۰"
    await page.click("#set-aside-count")
    assert await page.locator("article.finding").count() == await page.locator("article.finding .set-aside").count()
    assert await page.locator(f"#finding-{finding_id}").count() == 1
    assert await axe_violations(page) == []
    await regulator_context.close()

    office_context = await browser.new_context(viewport={"width": 360, "height": 740}, locale="fa-IR", bypass_csp=True)
    page = await office_context.new_page()
    await sign_in(page, gateway.url, *await person("office", office_id=RASHT), path="/office")  # a fresh TOTP code
    assert "کنارگذاشته با پذیرش اعتراض" in await page.locator(f"#finding-{finding_id} .set-aside").text_content()
    await office_context.close()

    assert await _negative_indicators(gateway, keys) == before - 1
    events = await db.fetch(
        "SELECT event, actor FROM objection_history WHERE violation_id = $1 ORDER BY id", finding_id
    )
    assert [e["event"] for e in events] == ["notified", "filed", "upheld"]
    assert events[2]["actor"] == inspector[0]
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("UPDATE objection_history SET note = 'rewritten' WHERE violation_id = $1", finding_id)
    with pytest.raises(ObjectionRefused):
        await objections.decide(
            gateway.services.pool,
            objection_id=await db.fetchval("SELECT id FROM objections WHERE violation_id = $1", finding_id),
            office_ids=[RASHT],
            upheld=False,
            reason="again",
            username="x",
            now=datetime.now(UTC),
        )


async def test_after_seven_days_objection_is_closed(gateway, keys, db):
    finding_id = await _finding_at_rasht(gateway, keys, db)
    with pytest.raises(ObjectionRefused, match="seven days"):
        await objections.file_objection(
            gateway.services.pool,
            violation_id=finding_id,
            office_id=RASHT,
            username="manager",
            text="دیر",
            uploads=[],
            now=datetime.now(UTC) + timedelta(days=7, seconds=1),
        )


async def test_an_office_manager_sees_only_their_own_office(gateway, keys, db, page, person):
    finding_id = await _finding_at_rasht(gateway, keys, db)
    await objections.file_objection(
        gateway.services.pool,
        violation_id=finding_id,
        office_id=RASHT,
        username="rasht-manager",
        text="اعتراض",
        uploads=[objections.Upload("a.pdf", PDF)],
        now=datetime.now(UTC),
    )
    attachment_id = await db.fetchval(
        "SELECT a.id FROM objection_attachments a JOIN objections o ON o.id = a.objection_id WHERE o.violation_id = $1",
        finding_id,
    )
    other = await person("office", office_id="11110001")
    await sign_in(page, gateway.url, *other, path="/office")
    assert await page.locator(f"#finding-{finding_id}").count() == 0
    assert (await page.goto(gateway.url + f"/office/attachments/{attachment_id}")).status == 404
    assert (await page.goto(gateway.url + f"/console/offices/{RASHT}")).status == 403
    assert (await page.goto(gateway.url + "/console/objections")).status == 403
