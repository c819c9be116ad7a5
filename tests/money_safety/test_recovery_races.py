"""Recovery racing with itself and with the hot path: claims keep workers apart, the claim epoch fences out whoever
overran a lease, and nothing is verified, reversed or completed twice."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from gateway.charging import store
from gateway.charging.recovery import LEASE, RecoveryWorker
from gateway.web.app import create_app
from gateway.web.context import SERVICES
from tests.money_safety.support import (
    PURCHASE_TIMEOUT_S,
    TERMINALS,
    assert_conserved,
    assert_replays_agree,
    drive_recovery,
    new_body,
    now,
    stream,
)


@pytest.fixture(scope="module")
async def second_gateway(settings, db):
    """Another gateway instance on the same database: its own pool, PSP connections and receipt issuer."""
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    yield server.app[SERVICES]
    await server.close()


@pytest.fixture
async def slow_cardholders(sims, demo_registry):
    """Cardholders slower than the gateway's purchase timeout: every charge is left pending, approved at the PSP."""

    async def set_delay(ms: int) -> None:
        for terminal_id in TERMINALS:
            await sims[demo_registry["terminals"][terminal_id]["psp"]].pin_delay(terminal_id, ms)

    await set_delay(int(PURCHASE_TIMEOUT_S * 1000) + 300)
    yield
    await set_delay(0)


def psp_calls(operation: str) -> float:
    return sum(
        REGISTRY.get_sample_value("pishkhan_psp_call_seconds_count", {"psp": psp, "operation": operation}) or 0
        for psp in ("psp-mellat", "psp-saman", "psp-sadad")
    )


def one_at_a_time(services) -> RecoveryWorker:
    """A recovery worker of this gateway instance that claims one charge per pass, so that two of them interleave."""
    return RecoveryWorker(services.pool, services.psps, services.charges, batch=1)


async def _pending_and_approved(gateway, keys, sims, db, demo_registry) -> list:
    since = now()
    sent = await stream(gateway, keys, per_terminal=1)
    assert {s.status for s in sent} == {202}, sent
    ids = [uuid.UUID(s.answer["id"]) for s in sent]
    for s in sent:  # the slow cardholders finish after the gateway stopped waiting
        sim = sims[demo_registry["terminals"][s.terminal_id]["psp"]]
        for _ in range(50):
            if (await sim.entry(s.answer["id"]))["state"] == "approved":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{s.answer['id']} never approved at the PSP")
    await db.execute("UPDATE charges SET next_recovery_at = now() WHERE id = ANY($1::uuid[])", ids)
    return since, sent, ids


async def _race(a: RecoveryWorker, b: RecoveryWorker) -> list[int]:
    claims = []
    while sum(batch := await asyncio.gather(a.run_once(), b.run_once())):
        claims.extend(batch)
    return claims


async def test_two_workers_racing_verify_each_charge_once(
    gateway, second_gateway, keys, sims, db, psp_hosts, demo_registry, slow_cardholders
):
    since, sent, ids = await _pending_and_approved(gateway, keys, sims, db, demo_registry)
    verifies = psp_calls("verify")

    claims = await _race(one_at_a_time(gateway.services), one_at_a_time(second_gateway))

    assert sum(claims) == len(ids)
    assert psp_calls("verify") - verifies == len(ids)
    assert await db.fetchval("SELECT count(*) FROM receipts WHERE charge_id = ANY($1::uuid[])", ids) == len(ids)
    await assert_conserved(db, psp_hosts, since)
    await assert_replays_agree(gateway, keys, sent, db)


async def test_two_workers_racing_at_the_deadline_reverse_each_charge_once(
    gateway, second_gateway, keys, sims, db, psp_hosts, demo_registry, slow_cardholders
):
    since, sent, ids = await _pending_and_approved(gateway, keys, sims, db, demo_registry)
    await db.execute("UPDATE charges SET verify_deadline = now() WHERE id = ANY($1::uuid[])", ids)
    reversals = psp_calls("reverse")

    await _race(one_at_a_time(gateway.services), one_at_a_time(second_gateway))

    assert psp_calls("reverse") - reversals == len(ids)
    assert {r["status"] for r in await db.fetch("SELECT status FROM charges WHERE id = ANY($1::uuid[])", ids)} == {
        "reversed"
    }
    for s in sent:
        entry = await sims[demo_registry["terminals"][s.terminal_id]["psp"]].entry(s.answer["id"])
        assert entry["state"] == "reversed"
    await assert_conserved(db, psp_hosts, since)
    await assert_replays_agree(gateway, keys, sent, db)


async def test_a_worker_that_overran_its_lease_cannot_complete_the_charge(
    gateway, second_gateway, keys, sims, db, psp_hosts, demo_registry, slow_cardholders
):
    since, sent, ids = await _pending_and_approved(gateway, keys, sims, db, demo_registry)
    stale = await store.claim_due_charges(db, now(), now() + LEASE, len(ids))
    # The first worker stalls past its lease; the second takes the charges over.
    await db.execute("UPDATE charges SET next_recovery_at = now() WHERE id = ANY($1::uuid[])", ids)
    current = await store.claim_due_charges(db, now(), now() + LEASE, len(ids))
    assert {c.id for c in stale} == {c.id for c in current} == set(ids)

    # The stalled worker wakes up: it verifies at the PSP, but its completions are fenced out.
    await asyncio.gather(*(gateway.services.recovery.resolve(charge) for charge in stale))
    rows = await db.fetch("SELECT status, claim_epoch FROM charges WHERE id = ANY($1::uuid[])", ids)
    assert {r["status"] for r in rows} == {"sent"}
    assert await db.fetchval("SELECT count(*) FROM receipts WHERE charge_id = ANY($1::uuid[])", ids) == 0

    # The current holder finds them verified at the PSP and completes each once.
    await asyncio.gather(*(second_gateway.recovery.resolve(charge) for charge in current))
    assert {r["status"] for r in await db.fetch("SELECT status FROM charges WHERE id = ANY($1::uuid[])", ids)} == {
        "completed"
    }
    await assert_conserved(db, psp_hosts, since)
    await assert_replays_agree(gateway, keys, sent, db)


async def test_a_hot_path_overtaken_by_recovery_leaves_the_completion_to_it(gateway, keys, sims, db, psp_hosts):
    since = now()
    await sims["psp-mellat"].pin_delay("10000001", int(PURCHASE_TIMEOUT_S * 1000) // 2)
    try:
        body, idem, key = new_body("10000001"), uuid.uuid4().hex, await keys("t:10000001")
        first = asyncio.create_task(gateway.charge(key, body, idem))
        while (charge_id := await db.fetchval("SELECT id FROM charges WHERE created_at >= $1", since)) is None:
            await asyncio.sleep(0.02)
        # Recovery claims the charge while the cardholder is still at the terminal: it only looks.
        await db.execute("UPDATE charges SET next_recovery_at = now() WHERE id = $1", charge_id)
        assert await gateway.services.recovery.run_once() == 1
        status, answer = await first
    finally:
        await sims["psp-mellat"].pin_delay("10000001", 0)

    # The PSP approved and verified, but the hot path no longer held the charge: no receipt from it.
    assert status == 202 and answer["status"] == "created", answer
    assert (await sims["psp-mellat"].entry(str(charge_id)))["state"] == "verified"
    assert await db.fetchval("SELECT count(*) FROM receipts WHERE charge_id = $1", charge_id) == 0

    await drive_recovery(gateway.services.recovery, db, since)
    status, answer = await gateway.charge(key, body, idem)
    assert status == 201 and answer["receipt"] is not None
    await assert_conserved(db, psp_hosts, since)


async def test_a_hot_path_past_its_lease_before_the_push_never_pushes(gateway, keys, sims, db):
    charges = gateway.services.charges
    start = now()
    # The clock reads the start when the charge is created, and the lease's end by the time it would be pushed.
    moments = itertools.chain([start], itertools.repeat(start + charges.recovery_grace))
    real_clock, charges.clock = charges.clock, lambda: next(moments)
    try:
        status, answer = await gateway.charge(await keys("t:10000001"), new_body("10000001"))
    finally:
        charges.clock = real_clock
    assert status == 502 and answer["error"]["code"] == "charge_failed", answer
    assert await sims["psp-mellat"].ledger(answer["error"]["details"]["charge"]["id"]) == []
