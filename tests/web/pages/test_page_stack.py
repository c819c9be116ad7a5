"""The pages' stack itself: Persian right-to-left pages with the gateway's own font, Persian error pages for browsers
(JSON for machines), the pages' security headers and the CSRF check of their forms."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateway.core.errors import CsrfTokenInvalid
from gateway.web.pages import csrf
from gateway.web.pages.rendering import PAGE_SECRET
from tests.web.pages.support import axe_violations, scrolls_sideways


async def test_home_page_is_persian_rtl_with_the_served_font(gateway, page):
    response = await page.goto(gateway.url + "/")
    assert response.status == 200
    assert await page.get_attribute("html", "lang") == "fa"
    assert await page.get_attribute("html", "dir") == "rtl"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    await page.evaluate("document.fonts.ready")
    assert await page.evaluate("document.fonts.check('16px Vazirmatn')")
    loaded = await page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert "Vazirmatn" in [family.strip('"') for family in loaded]
    assert not await scrolls_sideways(page)
    assert await axe_violations(page) == []


async def test_unknown_page_is_a_persian_404_for_a_browser_and_json_for_a_machine(gateway, page):
    response = await page.goto(gateway.url + "/no/such/page")
    assert response.status == 404
    assert await page.text_content("h1") == "صفحه پیدا نشد"
    assert await axe_violations(page) == []
    status, body = await gateway.request("GET", "/no/such/page")
    assert status == 404
    assert body["error"]["code"] == "resource_missing"


async def test_font_and_chart_files_come_from_the_gateway(gateway):
    for path in ("/assets/fonts/Vazirmatn-Regular.woff2", "/assets/chart/chart.umd.min.js"):
        status, body = await gateway.request("GET", path)
        assert status == 200, path
        assert len(body) > 10_000


def test_csrf_field_value_is_bound_to_the_cookie_token_and_the_secret():
    token = "a" * 43
    value = csrf.field_value(token, b"secret")
    assert value.startswith(token + ".")
    assert value != csrf.field_value(token, b"other secret")
    assert value != csrf.field_value("b" * 43, b"secret")


async def test_a_form_token_is_accepted_only_with_the_cookie_it_was_made_for(gateway, http_session):
    async with http_session.get(gateway.url + "/", headers={"Accept": "text/html"}) as response:
        token = response.cookies[csrf.COOKIE].value
    secret = gateway.app[PAGE_SECRET]
    good = csrf.field_value(token, secret)
    forged = csrf.field_value(token, b"not the gateway's secret")

    request = SimpleNamespace(cookies={csrf.COOKIE: token})
    csrf.check(request, {csrf.FIELD: good}, secret)
    for form in ({}, {csrf.FIELD: forged}, {csrf.FIELD: csrf.field_value("x" * 43, secret)}):
        with pytest.raises(CsrfTokenInvalid):
            csrf.check(request, form, secret)
