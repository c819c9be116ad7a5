"""Redis round trips of a charge through the whole path: the terminal lock's script (which also spends the rate
limits' counts and a signed request's nonce) and its release; nothing else."""

from __future__ import annotations

import time

import orjson

from gateway.web.request_signing import signed_headers
from tests.security.cli import create_key
from tests.stack import charge_body

LOCK_AND_RELEASE = [("EVALSHA",), ("EVALSHA",)]


async def _charged_twice(gateway, charge) -> None:
    """The first charge of a process loads its scripts and opens its connections: not the cost of a charge."""
    for _ in range(2):
        status, reply = await charge()
        assert status == 201 and reply["status"] == "completed", reply


async def test_a_plain_charge_makes_one_round_trip_to_take_the_terminal_and_one_to_let_it_go(
    gateway, keys, redis_round_trips
):
    key = await keys("t:10000002")
    await _charged_twice(gateway, lambda: gateway.charge(key, charge_body(terminal_id="10000002")))

    redis_round_trips.start()
    status, _ = await gateway.charge(key, charge_body(terminal_id="10000002"))
    assert status == 201
    assert redis_round_trips.stop() == LOCK_AND_RELEASE


async def test_a_signed_charge_spends_its_nonce_in_the_same_round_trip(gateway, database_url, redis_round_trips):
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
    assert redis_round_trips.stop() == LOCK_AND_RELEASE
