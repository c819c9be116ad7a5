"""kill -9 of the gateway at random moments while charges stream in, then a restart and recovery: every rial is
accounted for, each completed charge has one receipt and one SMS, and every retried request gets the same answer.

The gateway runs as two worker processes sharing the port (so two recovery workers race over the same charges) and
is killed as a whole process group. The cardholders take a random PIN time and some decline, cancel or never answer.
"""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
import redis.asyncio as aioredis

from gateway.charging.store import PENDING_STATUSES
from tests.money_safety.gateway_process import GatewayProcess, OfficeClients
from tests.money_safety.support import (
    TERMINALS,
    assert_conserved,
    assert_replays_agree,
    charge_of,
    now,
    pending_notes,
)

CARDHOLDERS = ["approve", "approve", "approve", "decline:51", "cancel", "no_answer", "approve", "decline:55"]


@pytest.fixture
async def cardholders(sims, psp_hosts, demo_registry, redis_url):
    """Random PIN times and a mix of answers on every streaming terminal; plain terminals again afterwards, free of
    the locks a killed gateway left behind (they expire on their own, but later tests send on these terminals)."""
    psp_of = {t: demo_registry["terminals"][t]["psp"] for t in TERMINALS}
    for terminal_id, psp_id in psp_of.items():
        await sims[psp_id].pin_delay(terminal_id, random.randint(100, 600))
        await sims[psp_id].script(terminal_id, *random.sample(CARDHOLDERS, len(CARDHOLDERS)))
    yield
    for terminal_id, psp_id in psp_of.items():
        await sims[psp_id].pin_delay(terminal_id, 0)
        await sims[psp_id].script(terminal_id)
    await _until_terminals_free(redis_url)


async def _until_terminals_free(redis_url: str, timeout: float = 30.0) -> None:
    redis = aioredis.from_url(redis_url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while held := [key async for key in redis.scan_iter(match="pishkhan:*:terminal:*:busy")]:
            assert loop.time() < deadline, f"terminal locks still held after {timeout} s: {held}"
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()


async def _wait_until_final(db, since, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending := await pending_notes(db, since):
        assert loop.time() < deadline, f"recovery left charges pending: {pending}"
        await asyncio.sleep(0.2)


async def _kill_and_recover(kills: int, gateway_env, keys, db, psp_hosts, http_session, tmp_path) -> None:
    since = now()
    server = GatewayProcess(gateway_env, tmp_path / "gateway.log")
    clients = OfficeClients(server.url, {t: await keys(f"t:{t}") for t in TERMINALS}, http_session)
    try:
        await server.start(http_session)
        clients.start()
        for _ in range(kills):
            await asyncio.sleep(random.uniform(0.3, 2.0))
            server.kill()
            await server.start(http_session)
        await asyncio.sleep(random.uniform(0.3, 1.0))
        sent = await clients.stop()
        await _wait_until_final(db, since)

        counts = dict(
            await db.fetch("SELECT status, count(*) FROM charges WHERE created_at >= $1 GROUP BY status", since)
        )
        assert counts.get("completed", 0) > 0 and not set(counts) & set(PENDING_STATUSES), counts
        assert clients.unanswered > 0, "no request was ever cut by a kill"
        assert {s.status for s in sent} <= {201, 202, 402, 502}, [s for s in sent if s.status >= 400]
        stored = {r["id"] for r in await db.fetch("SELECT id FROM charges WHERE created_at >= $1", since)}
        assert {uuid.UUID(charge_of(s.status, s.answer)["id"]) for s in sent} <= stored
        await assert_replays_agree(_Through(server, http_session), keys, sent, db)
    finally:
        server.stop()
    report = await assert_conserved(db, psp_hosts, since)
    assert report.charges >= len(sent)


class _Through:
    """`gateway.charge` through the gateway process, for the replay check."""

    def __init__(self, server: GatewayProcess, session) -> None:
        self.server = server
        self.session = session

    async def charge(self, key: str, body: dict, idempotency_key: str) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}
        async with self.session.post(self.server.url + "/v1/charges", json=body, headers=headers) as response:
            return response.status, await response.json()


async def test_three_kills_while_charges_stream_in(
    gateway_env, cardholders, keys, db, psp_hosts, http_session, tmp_path
):
    await _kill_and_recover(3, gateway_env, keys, db, psp_hosts, http_session, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_soak_many_kills(gateway_env, cardholders, keys, db, psp_hosts, http_session, tmp_path):
    await _kill_and_recover(40, gateway_env, keys, db, psp_hosts, http_session, tmp_path)
