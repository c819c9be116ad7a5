"""What the pages' tests check on any page: axe-core's verdict, horizontal scroll, and screenshots for docs/."""

from __future__ import annotations

import asyncio
import re
import secrets

import pyotp

from gateway.platform.config import PROJECT_ROOT
from gateway.web.pages.labels import LABELS

AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


async def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's violations of the page as shown, of the given impacts, as {id, impact, help, targets}."""
    await page.add_script_tag(path=str(AXE_SCRIPT))
    result = await page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]],
        }
        for violation in result["violations"]
        if violation["impact"] in impacts
    ]


async def scrolls_sideways(page) -> bool:
    return await page.evaluate("() => document.documentElement.scrollWidth > document.documentElement.clientWidth")


async def screenshot(page, name: str) -> None:
    """A full-page PNG under docs/screenshots/, for the docs (kept in the repository, looked at by people)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def sign_in(page, base_url: str, username: str, password: str, secret: str, path: str = "/account") -> None:
    """Opens `path`, is sent to sign in, and signs in with the password and the TOTP code of the moment."""
    await page.goto(base_url + path)
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


def new_mobile() -> str:
    """A mobile number no other test sends to."""
    return f"0919{secrets.randbelow(10_000_000):07d}"


async def sms_texts(sms_centre, mobile: str, count: int = 1, timeout: float = 15.0) -> list[str]:
    """The texts of the first `count` messages delivered to `mobile`, waiting for them to arrive."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        messages = await sms_centre.handset(mobile)
        if len(messages) >= count:
            return [message["text"] for message in messages]
        assert asyncio.get_running_loop().time() < deadline, f"{len(messages)} of {count} messages reached {mobile}"
        await asyncio.sleep(0.1)


_RAW_CODES = re.compile(r"\b(" + "|".join(sorted({code for table in LABELS.values() for code in table})) + r")\b")


async def raw_codes_shown(page) -> list[str]:
    """Machine codes (a charge status, a refusal reason, ...) the page shows as text instead of their Persian names;
    a finding's evidence (the raw record, in a details element) aside."""
    text = await page.evaluate(
        """() => { const main = document.querySelector('main').cloneNode(true);
                   main.querySelectorAll('details').forEach(e => e.remove()); return main.innerText; }"""
    )
    return _RAW_CODES.findall(text)
