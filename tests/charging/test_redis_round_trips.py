"""Redis round trips of a charge through the whole path: the terminal lock's script (which also spends the rate
limits' counts and a signed request's nonce), carrying the release of the charge before it; nothing else. A release
with no script after it goes alone, after the answer."""

from __future__ import annotations

import time

import orjson
import pytest

from gateway.charging import terminal_lock
from gateway.web.request_signing import signed_headers
from tests.charging.support import until_free
from tests.security.cli import create_key
from tests.stack import charge_body

# One write: the charge before it let go of its terminal, then this charge takes one.
RELEASE_AND_LOCK = [("EVAL", "EVALSHA")]
BUSY = "pishkhan:{11110001}:terminal:10000002:busy"


@pytest.fixture
def releases_wait_for_the_next_charge(monkeypatch):
    """Releases that wait as long as a test may take: each goes with the next charge's lock script, whatever the
    machine's speed."""
    monkeypatch.setattr(terminal_lock, "RELEASE_DELAY_S", 60.0)


async def _charged_twice(gateway, charge) -> None:
    """The first charge of a process loads its scripts and opens its connections: not the cost of a charge."""
    for _ in range(2):
        status, reply = await charge()
        assert status == 201 and reply["status"] == "completed", reply


async def test_a_plain_charge_makes_one_round_trip_that_also_lets_the_charge_before_it_go(
    gateway, keys, redis_round_trips, releases_wait_for_the_next_charge
):
    key = await keys("t:10000002")
    await _charged_twice(gateway, lambda: gateway.charge(key, charge_body(terminal_id="10000002")))

    for _ in range(2):  # the same terminal each time: the release runs ahead of the lock script that follows it
        redis_round_trips.start()
        status, _ = await gateway.charge(key, charge_body(terminal_id="10000002"))
        assert status == 201
        assert redis_round_trips.stop() == RELEASE_AND_LOCK


async def test_a_signed_charge_spends_its_nonce_in_the_same_round_trip(
    gateway, database_url, redis_round_trips, releases_wait_for_the_next_charge
):
    signing_key = await create_key(database_url, "--role", "terminal", "--terminal-id", "10000002")

    def signed_charge():
        body = orjson.dumps(charge_body(terminal_id="10000002"))
        headers = signed_headers(signing_key, "POST", "/v1/charges", body) | {
            "Content-Type": "application/json",
            "Idempotency-Key": f"signed-{time.time_ns()}",
        }
        return gateway.request("POST", "/v1/charges", data=body, headers=headers)

    await _charged_twice(gateway, signed_charge)
    redis_round_trips.start()
    status, _ = await signed_charge()
    assert status == 201
    assert redis_round_trips.stop() == RELEASE_AND_LOCK


async def test_with_no_charge_after_it_the_release_goes_alone_after_the_answer(
    gateway, keys, redis_round_trips, monkeypatch
):
    monkeypatch.setattr(terminal_lock, "RELEASE_DELAY_S", 0.5)  # time enough to look before it goes, on any machine
    key = await keys("t:10000002")
    await _charged_twice(gateway, lambda: gateway.charge(key, charge_body(terminal_id="10000002")))
    await until_free(gateway.services.redis, BUSY)  # the warm-up's last release has gone

    redis_round_trips.start()
    status, _ = await gateway.charge(key, charge_body(terminal_id="10000002"))
    assert status == 201
    assert redis_round_trips.sent == [("EVALSHA",)], "the answer came before the release"
    await until_free(gateway.services.redis, BUSY)  # looks with GET, left out below
    assert [trip for trip in redis_round_trips.stop() if trip != ("GET",)] == [("EVALSHA",), ("EVAL",)]
