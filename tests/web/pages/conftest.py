"""A real browser for the pages' tests: Debian's chromium driven by playwright (no browser download), one per test
session, a fresh context (cookies, storage) per test, sized like a 360 px wide phone unless a test asks otherwise."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import uuid
from collections.abc import Iterator

import pytest
from playwright.async_api import async_playwright

from gateway.people.enrolment import enrol
from tests.messaging.support import SimulatorControl, start_process, stop_process
from tests.stack import served

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


@pytest.fixture
def person(db):
    """A factory of people who can sign in: `await person("regulator", province=...)` → (username, password, secret)."""
    names = iter(range(1, 10_000))

    async def make(role: str, **scope) -> tuple[str, str, str]:
        username = f"{role}-{next(names)}-{uuid.uuid4().hex[:8]}"
        password = "a long pass phrase " + uuid.uuid4().hex[:6]
        enrolled = await enrol(db, password=password, username=username, role=role, **scope)
        return username, password, enrolled.totp_secret

    return make


@pytest.fixture(scope="session")
def sms_centre_url() -> Iterator[str]:
    process, url = start_process("simulators.sms_centre", "--delivery-delay", "0.05")
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
def poosheh_url() -> Iterator[str]:
    process, url = start_process("simulators.poosheh_inbox")
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
async def sms_centre(http_session, sms_centre_url) -> SimulatorControl:
    return SimulatorControl(http_session, sms_centre_url)


@pytest.fixture(scope="session")
async def gateway(settings, db, http_session, sms_centre_url, poosheh_url, civil_registry_url, shahkar_url):
    """The pages' gateway: served on a port known in advance, so the links it sends by SMS and prints in QR codes
    lead back to it, with its background workers sending the outbox to the SMS centre and Iran Poosheh simulators."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    citizen = dataclasses.replace(
        settings,
        public_base_url=f"http://127.0.0.1:{port}",
        run_workers=True,
        sms_provider="magfa",
        sms_url=sms_centre_url,
        poosheh_url=poosheh_url,
        messaging_timeout_s=2.0,
        outbox_interval_s=0.05,
        outbox_retry_base_s=0.05,
        civil_registry_url=civil_registry_url,
        shahkar_url=shahkar_url,
    )
    async with served(citizen, http_session, port=port) as served_gateway:
        yield served_gateway
