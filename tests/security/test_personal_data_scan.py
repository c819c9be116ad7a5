"""After every other test of the run (conftest orders this module last): the database, Redis and the logs written
by the test process and by every gateway process these tests started hold no full card number, PIN or API secret,
and the logs hold no national code or mobile number in clear."""

from __future__ import annotations

import re

import pytest

from simulators.psp.cards import TEST_CARDS
from tests.security.support import PROCESS_LOGS, RECORDED_LOG

API_KEY = re.compile(r"pk_[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{20,}")
PIN_COLUMN = re.compile(r"(^|_)pin(_|$)|pin_?block")
KEY_NAMES = (
    "t:10000001",
    "t:10000002",
    "t:10000003",
    "t:10000004",
    "t:10000005",
    "t:10000006",
    "t:10000007",
    "t:10000008",
    "regulator",
    "admin",
    "a:civil-registration",
    "a:police",
    "a:social-security",
)


@pytest.fixture(scope="module")
async def database_dump(db) -> str:
    tables = [r["tablename"] for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    dumps = [
        await db.fetchval(f"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t") for table in tables
    ]
    return "\n".join(dumps)


@pytest.fixture(scope="module")
async def redis_dump(gateway) -> str:
    redis = gateway.services.redis
    lines = []
    async for key in redis.scan_iter(count=1000):
        value = await redis.get(key) if await redis.type(key) == b"string" else b""
        lines.append(f"{key.decode(errors='replace')} {(value or b'').decode(errors='replace')}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def logs() -> str:
    written = [path.read_text(errors="replace") for path in PROCESS_LOGS if path.exists()]
    return "\n".join([*RECORDED_LOG.lines, *written])


@pytest.fixture(scope="module")
async def secrets(keys) -> list[str]:
    """The secret half of every key the shared fixtures handed out."""
    return [(await keys(name)).partition(".")[2] for name in KEY_NAMES]


def _full_card_numbers(text: str) -> list[str]:
    return [card.pan for card in TEST_CARDS if card.pan in text]


def test_the_run_left_something_to_scan(database_dump, logs):
    assert "0012345679" in database_dump, "no charge was stored during the run"
    assert len(RECORDED_LOG.lines) > 10 and PROCESS_LOGS, "no log was recorded during the run"


def test_no_full_card_number_anywhere(database_dump, redis_dump, logs):
    for where, text in (("database", database_dump), ("redis", redis_dump), ("logs", logs)):
        assert _full_card_numbers(text) == [], f"a full card number in the {where}"


def test_no_api_secret_anywhere(database_dump, redis_dump, logs, secrets):
    for where, text in (("database", database_dump), ("redis", redis_dump), ("logs", logs)):
        assert API_KEY.findall(text) == [], f"an API key in the {where}"
        assert [s for s in secrets if s in text] == [], f"an API secret in the {where}"


async def test_no_pin_is_kept(db, database_dump):
    columns = [
        r["column_name"]
        for r in await db.fetch("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'")
    ]
    assert [c for c in columns if PIN_COLUMN.search(c)] == []
    assert '"pin' not in database_dump.lower()


async def test_logs_hold_no_national_code_or_mobile_in_clear(db, logs):
    people = await db.fetch(
        "SELECT recipient_national_code AS code, recipient_mobile AS mobile FROM charges "
        "UNION SELECT recipient_national_code, NULL FROM refusals"
    )
    codes = {p["code"] for p in people if p["code"]}
    mobiles = {p["mobile"] for p in people if p["mobile"]}
    assert "0012345679" in codes
    assert [c for c in codes if c in logs] == []
    assert [m for m in mobiles if m in logs or m[1:] in logs] == []
