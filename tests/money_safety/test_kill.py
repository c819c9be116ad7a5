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

from gateway.charging.store import PENDING_STATUSES
from tests.money_safety.gateway_process import ChargesThrough, GatewayProcess, OfficeClients
from tests.money_safety.support import (
    TERMINALS,
    assert_conserved,
    assert_replays_agree,
    charge_of,
    now,
    wait_until_final,
)


async def _kill_and_recover(kills: int, gateway_env, keys, db, psp_hosts, http_session, tmp_path) -> None:
    since = now()
    server = GatewayProcess(gateway_env, tmp_path / "gateway.log")
    clients = OfficeClients([server.url], {t: await keys(f"t:{t}") for t in TERMINALS}, http_session)
    try:
        await server.start(http_session)
        clients.start()
        for _ in range(kills):
            await asyncio.sleep(random.uniform(0.3, 2.0))
            server.kill()
            await server.start(http_session)
        await asyncio.sleep(random.uniform(0.3, 1.0))
        sent = await clients.stop()
        await wait_until_final(db, since)

        counts = dict(
            await db.fetch("SELECT status, count(*) FROM charges WHERE created_at >= $1 GROUP BY status", since)
        )
        assert counts.get("completed", 0) > 0 and not set(counts) & set(PENDING_STATUSES), counts
        assert clients.unanswered > 0, "no request was ever cut by a kill"
        assert {s.status for s in sent} <= {201, 202, 402, 502}, [s for s in sent if s.status >= 400]
        stored = {r["id"] for r in await db.fetch("SELECT id FROM charges WHERE created_at >= $1", since)}
        assert {uuid.UUID(charge_of(s.status, s.answer)["id"]) for s in sent} <= stored
        await assert_replays_agree(ChargesThrough(server.url, http_session), keys, sent, db)
    finally:
        server.stop()
    report = await assert_conserved(db, psp_hosts, since)
    assert report.charges >= len(sent)


async def test_three_kills_while_charges_stream_in(
    gateway_env, cardholders, keys, db, psp_hosts, http_session, tmp_path
):
    await _kill_and_recover(3, gateway_env, keys, db, psp_hosts, http_session, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_soak_many_kills(gateway_env, cardholders, keys, db, psp_hosts, http_session, tmp_path):
    await _kill_and_recover(40, gateway_env, keys, db, psp_hosts, http_session, tmp_path)
