"""The edge: body size and media type, unknown routes and methods, one card at a time per terminal, and timeouts on
calls that leave the gateway."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
import uuid

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from gateway.web.app import MAX_BODY_BYTES, create_app
from gateway.web.request_signing import signed_headers
from tests.stack import charge_body

ERROR_FIELDS = {"type", "code", "message", "param", "details"}
QUOTE = "/v1/tariffs/quote?service_code=1101"


async def _row_counts(db) -> tuple[int, int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM charges) AS charges, (SELECT count(*) FROM refusals) AS r, "
        "(SELECT count(*) FROM idempotency_keys) AS i"
    )
    return tuple(row)


def _error(answer: tuple[int, object]) -> tuple[int, str]:
    status, body = answer
    assert set(body["error"]) >= ERROR_FIELDS, body
    return status, body["error"]["code"]


async def test_a_body_over_the_limit_is_413_in_the_error_shape(gateway, keys, db):
    before = await _row_counts(db)
    body = charge_body(recipient={"name": "ب" * MAX_BODY_BYTES, "national_code": "0012345679", "mobile": "09121234567"})
    answer = await gateway.charge(await keys("t:10000001"), body)
    assert _error(answer) == (413, "request_too_large")
    status, verify = await gateway.request(
        "POST", "/v1/receipts/111100010000000013/verify", json={"qr_payload": "x" * (MAX_BODY_BYTES + 1)}
    )
    assert _error((status, verify)) == (413, "request_too_large")
    assert await _row_counts(db) == before


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x", None],
)
async def test_a_json_body_sent_as_another_media_type_is_415(gateway, keys, db, content_type):
    before = await _row_counts(db)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if content_type:
        headers["Content-Type"] = content_type
    answer = await gateway.request(
        "POST", "/v1/charges", key=await keys("t:10000001"), data=orjson.dumps(charge_body()), headers=headers
    )
    assert _error(answer) == (415, "unsupported_media_type")
    assert answer[1]["error"]["details"]["accepted"] == ["application/json"]
    assert await _row_counts(db) == before


async def test_json_with_a_charset_parameter_is_accepted(gateway, keys):
    status, charge = await gateway.request(
        "POST",
        "/v1/charges",
        key=await keys("t:10000001"),
        data=orjson.dumps(charge_body()),
        headers={"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json; charset=utf-8"},
    )
    assert status == 201, charge


async def test_unknown_routes_and_methods_answer_in_the_error_shape(gateway, keys):
    assert _error(await gateway.request("GET", "/v1/nothing-here")) == (404, "resource_missing")
    status, body = await gateway.request("DELETE", "/v1/charges", key=await keys("t:10000001"))
    assert _error((status, body)) == (405, "method_not_allowed")


async def test_a_busy_terminal_refuses_a_second_card_without_pushing_it(gateway, keys, sims, db):
    key, terminal = await keys("t:10000006"), "10000006"
    body = charge_body(terminal_id=terminal, operator_id="op-51", amount=500_000)
    simulator = sims["psp-saman"]
    pushed_before = [e for e in await simulator.ledger() if e["terminal_id"] == terminal]
    await simulator.pin_delay(terminal, 1500)
    try:
        first = asyncio.create_task(gateway.charge(key, body))
        await _until(lambda: _pushes(simulator, terminal), len(pushed_before) + 1)
        counts = await _row_counts(db)

        second = await gateway.charge(key, body)

        assert _error(second) == (409, "terminal_busy")
        assert await _row_counts(db) == counts
        status, charge = await first
    finally:
        await simulator.pin_delay(terminal, 0)
    assert status == 201 and charge["status"] == "completed"
    pushed = [e for e in await simulator.ledger() if e["terminal_id"] == terminal]
    assert len(pushed) == len(pushed_before) + 1 and pushed[-1]["reference"] == charge["id"]
    status, _ = await gateway.charge(key, body)
    assert status == 201, "the terminal is free again once the first card is done"


async def _pushes(simulator, terminal: str) -> int:
    return len([e for e in await simulator.ledger() if e["terminal_id"] == terminal])


async def _until(measure, target: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while await measure() < target:
        assert time.monotonic() < deadline, "the first charge never reached the terminal"
        await asyncio.sleep(0.02)


async def test_a_silent_redis_costs_a_request_its_timeout_not_forever(settings, db, keys):
    """A Redis that accepts connections and never answers: the gateway's client gives up after
    PISHKHAN_REDIS_TIMEOUT_S; the rate limit then lets the request through, and a signed request, whose nonce
    cannot be checked, is refused with 503: a charge request too, whose nonce the terminal lock's script spends,
    and nothing is stored."""
    key = await keys("t:10000001")
    with socket.create_server(("127.0.0.1", 0)) as silent:
        app = create_app(
            dataclasses.replace(
                settings, redis_url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0", redis_timeout_s=0.3
            )
        )
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            async with aiohttp.ClientSession(str(server.make_url(""))) as session:
                started = time.monotonic()
                async with session.get(QUOTE, headers={"Authorization": f"Bearer {key}"}) as response:
                    assert response.status == 200
                assert time.monotonic() - started < 3
                async with session.get(QUOTE, headers=signed_headers(key, "GET", QUOTE)) as response:
                    assert response.status == 503 and response.headers["Retry-After"] == "1"
                    assert (await response.json())["error"]["code"] == "service_unavailable"
                charges = await db.fetchval("SELECT count(*) FROM charges")
                body = orjson.dumps(charge_body())
                headers = signed_headers(key, "POST", "/v1/charges", body) | {
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"silent-{time.time_ns()}",
                }
                async with session.post("/v1/charges", data=body, headers=headers) as response:
                    assert response.status == 503 and response.headers["Retry-After"] == "1"
                    assert (await response.json())["error"]["code"] == "service_unavailable"
                assert await db.fetchval("SELECT count(*) FROM charges") == charges
        finally:
            await server.close()
