"""Signing in to the pages in a real browser: the password, then the TOTP code computed here with pyotp; being sent
back to the page asked for; signing out; a session ending after its idle time; the pages clean under axe-core."""

from __future__ import annotations

import asyncio
import dataclasses

import pyotp

from gateway.web.pages.signin import SESSION_COOKIE
from tests.stack import served
from tests.web.pages.support import axe_violations, screenshot, scrolls_sideways, sign_in


async def test_sign_in_with_password_and_code_then_out(gateway, page, person, db):
    username, password, secret = await person("regulator", province="اصفهان")
    response = await page.goto(gateway.url + "/account")
    assert page.url.startswith(gateway.url + "/signin?next=")
    assert response.status == 200
    assert await axe_violations(page) == []
    assert not await scrolls_sideways(page)
    await screenshot(page, "signin")

    await page.fill("#username", username)
    await page.fill("#password", "not the password at all")
    await page.click("button[type=submit]")
    assert "درست نیست" in await page.text_content("[role=alert]")

    await sign_in(page, gateway.url, username, password, secret)
    assert page.url == gateway.url + "/account"
    assert username in await page.text_content("main")
    assert "استان اصفهان" in await page.text_content("main")
    assert await axe_violations(page) == []
    cookie = next(c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    await page.click("nav.person button")
    assert page.url == gateway.url + "/signin"
    await page.goto(gateway.url + "/account")
    assert page.url.startswith(gateway.url + "/signin")
    events = await db.fetch("SELECT event, path FROM regulator_access_log WHERE username = $1 ORDER BY id", username)
    assert [row["event"] for row in events] == [
        "signin.password_failed",
        "signin.password_accepted",
        "signin.succeeded",
        None,  # the account page itself
        "signout",
    ]


async def test_the_code_step_accepts_persian_digits(gateway, page, person):
    username, password, secret = await person("office", office_id="11110001")
    await page.goto(gateway.url + "/signin?next=/account")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    assert await axe_violations(page) == []
    code = pyotp.TOTP(secret).now().translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    await page.fill("#code", code)
    await page.click("button[type=submit]")
    assert page.url == gateway.url + "/account"


async def test_a_session_ends_after_its_idle_time(settings, db, http_session, page, person):
    username, password, secret = await person("regulator")
    async with served(dataclasses.replace(settings, session_idle_s=2), http_session) as short:
        await sign_in(page, short.url, username, password, secret)
        assert page.url == short.url + "/account"
        await asyncio.sleep(3)
        await page.goto(short.url + "/account")
        assert page.url.startswith(short.url + "/signin?next=")


async def test_a_form_without_its_csrf_token_is_refused(gateway, http_session):
    async with http_session.post(
        gateway.url + "/signin", data={"username": "x", "password": "y"}, headers={"Accept": "text/html"}
    ) as response:
        assert response.status == 403
