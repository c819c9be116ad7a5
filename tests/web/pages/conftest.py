"""A real browser for the pages' tests: Debian's chromium driven by playwright (no browser download), one per test
session, a fresh context (cookies, storage) per test, sized like a 360 px wide phone unless a test asks otherwise."""

from __future__ import annotations

import shutil

import pytest
from playwright.async_api import async_playwright

# Chromium as root, with nothing that reaches for the internet (this machine has none).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
async def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make install` (it installs Debian's chromium package)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser):
    # bypass_csp lets the tests inject axe-core into pages whose policy allows only their own scripts.
    context = await browser.new_context(viewport=PHONE, locale="fa-IR", timezone_id="Asia/Tehran", bypass_csp=True)
    page = await context.new_page()
    yield page
    await context.close()
