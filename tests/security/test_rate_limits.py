"""Per-key and per-terminal rate limits: 429 in the shared shape with Retry-After, counted in Redis per minute."""

from __future__ import annotations

import dataclasses
import logging
import uuid

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.access.api_keys import Principal
from gateway.access.store import create_api_key
from gateway.web.app import create_app
from gateway.web.context import SERVICES
from gateway.web.rate_limit import RateLimiter
from simulators.devstack.embedded import free_port
from tests.stack import charge_body

QUOTE = "/v1/tariffs/quote?service_code=1101"
MOMENT = 1_800_000_000 + 15.5  # 15.5 s into a minute


@pytest.fixture(scope="module")
async def limited(settings, db):
    """A gateway of its own with small limits (3 a minute per key, 5 per terminal) and a clock the test sets."""
    server = TestServer(
        create_app(dataclasses.replace(settings, rate_limit_per_minute=3, terminal_rate_limit_per_minute=5)),
        host="127.0.0.1",
    )
    await server.start_server()
    limiter = server.app[SERVICES].auth.limiter
    limiter.clock = lambda: MOMENT
    async with aiohttp.ClientSession(str(server.make_url(""))) as session:
        yield session, limiter
    await server.close()


async def _get(session, key: str, path: str = QUOTE) -> tuple[int, dict, dict]:
    async with session.get(path, headers={"Authorization": f"Bearer {key}"}) as response:
        return response.status, await response.json(), dict(response.headers)


async def _terminal_key(db, terminal_id: str = "10000003") -> str:
    return await create_api_key(db, role="terminal", terminal_id=terminal_id, label="rate-limit test")


async def test_a_key_over_its_limit_gets_429_with_retry_after_until_the_next_minute(limited, db):
    session, limiter = limited
    key = await _terminal_key(db)
    assert [(await _get(session, key))[0] for _ in range(3)] == [200, 200, 200]

    status, body, headers = await _get(session, key)

    assert status == 429
    assert body["error"]["type"] == "rate_limit_error" and body["error"]["code"] == "rate_limited"
    assert body["error"]["details"] == {"scope": "key", "limit": 3, "retry_after": 45}
    assert set(body["error"]) == {"type", "code", "message", "param", "details"}
    assert headers["Retry-After"] == "45"
    limiter.clock = lambda: MOMENT + 45
    try:
        assert (await _get(session, key))[0] == 200
    finally:
        limiter.clock = lambda: MOMENT


async def test_the_terminal_limit_counts_every_key_of_the_terminal(limited, db):
    session, _ = limited
    first, second = await _terminal_key(db, "10000004"), await _terminal_key(db, "10000004")
    other_terminal = await _terminal_key(db, "10000006")
    answers = [(await _get(session, key))[0] for key in (first, first, first, second, second)]
    assert answers == [200] * 5

    status, body, _ = await _get(session, second)

    assert status == 429 and body["error"]["details"]["scope"] == "terminal"
    assert (await _get(session, other_terminal))[0] == 200


async def test_refused_keys_spend_no_allowance(limited, db):
    session, _ = limited
    key = await _terminal_key(db, "10000002")
    key_id = key[3:].partition(".")[0]
    for _ in range(5):
        assert (await _get(session, f"pk_{key_id}.wrong-secret"))[0] == 401
    assert [(await _get(session, key))[0] for _ in range(3)] == [200, 200, 200]


async def test_every_role_is_limited_per_key(limited, db):
    session, _ = limited
    regulator = await create_api_key(db, role="regulator", label="rate-limit test")
    charge = "/v1/charges/00000000-0000-4000-8000-000000000000"
    assert [(await _get(session, regulator, charge))[0] for _ in range(4)] == [404, 404, 404, 429]


async def test_the_limit_lets_requests_through_when_redis_is_down(caplog):
    unreachable = aioredis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    limiter = RateLimiter(unreachable, per_key=1, per_terminal=1)
    caller = Principal(key_id="k1", role="terminal", terminal_id="10000001", office_id="11110001")
    with caplog.at_level(logging.WARNING, logger="gateway.web.rate_limit"):
        for _ in range(3):
            await limiter.check(caller)
    assert "Redis unavailable" in caplog.text
    await unreachable.aclose()


async def test_a_charge_counts_once_and_a_charge_over_the_limit_writes_nothing_and_leaves_the_terminal_free(
    limited, db
):
    session, limiter = limited
    key = await _terminal_key(db, "10000001")
    first = await _charge(session, key)
    assert first[0] == 201, first
    assert (await _get(session, key))[0] == 200
    assert (await _charge(session, key, body={"terminal_id": "10000001"}))[0] == 400  # refused at the edge: counted

    idempotency_key = f"over-{key[3:11]}"
    status, body = await _charge(session, key, idempotency_key=idempotency_key)

    assert status == 429 and body["error"]["details"]["scope"] == "key"
    assert not await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", idempotency_key)
    assert (await _charge(session, key, body={"terminal_id": "10000001"}))[0] == 429
    limiter.clock = lambda: MOMENT + 45
    try:  # the next minute: the refused charge left the terminal free
        assert (await _charge(session, key))[0] == 201
    finally:
        limiter.clock = lambda: MOMENT


async def _charge(session, key: str, *, body: dict | None = None, idempotency_key: str | None = None):
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    async with session.post("/v1/charges", json=charge_body() if body is None else body, headers=headers) as answer:
        return answer.status, await answer.json()
