"""Gateway hosts are interchangeable: two `pishkhan serve` instances on different ports, each with its own background
process, share one PostgreSQL and one Valkey. Offices charge through both; one host is killed with SIGKILL while
charges stream in and its terminals move to the other host, whose recovery finishes what the dead host left.
Every rial is accounted for (no purchase held twice at a PSP), every retried request gets the same answer, and each
completed charge's SMS reaches the handset exactly once (no message lost, none dispatched twice)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from simulators.devstack.embedded import free_port
from tests.money_safety.gateway_process import ChargesThrough, GatewayProcess, OfficeClients
from tests.money_safety.support import (
    TERMINALS,
    assert_conserved,
    assert_replays_agree,
    now,
    wait_until_final,
)
from tests.stack import charge_body

RECIPIENT = charge_body()["recipient"]["mobile"]


@pytest.fixture
def host_envs(gateway_env, sms_centre, inbox) -> list[dict[str, str]]:
    """Two hosts' environments: one serving process each plus its background process, the same databases and
    message centres, their own ports."""
    shared = {
        **gateway_env,
        "PISHKHAN_WORKERS": "1",
        "PISHKHAN_SMS_URL": sms_centre.base_url,
        "PISHKHAN_POOSHEH_URL": inbox.base_url,
        "PISHKHAN_OUTBOX_INTERVAL_S": "0.2",
    }
    return [{**shared, "PISHKHAN_PORT": str(free_port())} for _ in range(2)]


async def _until_messages_delivered(db, since, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    query = (
        "SELECT count(*) FROM outbox o JOIN charges c ON c.id = o.charge_id "
        "WHERE c.created_at >= $1 AND o.status IN ('pending', 'sent')"
    )
    while waiting := await db.fetchval(query, since):
        assert loop.time() < deadline, f"{waiting} outbox messages still undelivered after {timeout} s"
        await asyncio.sleep(0.2)


async def _two_hosts(kills: int, host_envs, keys, db, psp_hosts, sms_centre, http_session, tmp_path) -> None:
    """`kills` times: a random host is killed mid-stream, its clients move to the other, and the dead one starts
    again, except after the last kill: the survivor alone then finishes what the dead host left."""
    since = now()
    hosts = [GatewayProcess(env, tmp_path / f"gateway-{i}.log") for i, env in enumerate(host_envs)]
    clients = OfficeClients([h.url for h in hosts], {t: await keys(f"t:{t}") for t in TERMINALS}, http_session)
    try:
        await asyncio.gather(*(host.start(http_session) for host in hosts))
        clients.start()
        for kill in range(1, kills + 1):
            await asyncio.sleep(random.uniform(1.0, 2.5))
            victim = random.choice(hosts)
            victim.kill()
            await asyncio.sleep(random.uniform(0.5, 1.5))  # the other host alone carries every office
            if kill < kills:
                await victim.start(http_session)
        await asyncio.sleep(random.uniform(0.5, 1.0))
        sent = await clients.stop()
        await wait_until_final(db, since)
        await _until_messages_delivered(db, since)

        assert clients.unanswered > 0, "no request was ever cut by a kill"
        assert {s.status for s in sent} <= {201, 202, 402, 502}, [s for s in sent if s.status >= 400]
        for host in hosts:
            if host.process.poll() is None:
                await assert_replays_agree(ChargesThrough(host.url, http_session), keys, sent, db)
    finally:
        for host in hosts:
            host.stop()
    report = await assert_conserved(db, psp_hosts, since)
    assert report.charges >= len(sent)

    completed = [
        r["tracking_code"]
        for r in await db.fetch(
            "SELECT tracking_code FROM charges WHERE created_at >= $1 AND status = 'completed'", since
        )
    ]
    assert completed, "no charge completed"
    handset = Counter(
        code for message in await sms_centre.handset(RECIPIENT) for code in completed if code in message["text"]
    )
    assert {code: handset[code] for code in completed} == dict.fromkeys(completed, 1)


async def test_one_of_two_hosts_killed_while_charges_stream_in(
    host_envs, cardholders, keys, db, psp_hosts, sms_centre, http_session, tmp_path
):
    await _two_hosts(1, host_envs, keys, db, psp_hosts, sms_centre, http_session, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_soak_hosts_killed_in_turn(
    host_envs, cardholders, keys, db, psp_hosts, sms_centre, http_session, tmp_path
):
    await _two_hosts(30, host_envs, keys, db, psp_hosts, sms_centre, http_session, tmp_path)
