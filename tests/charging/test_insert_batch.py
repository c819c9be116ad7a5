"""Group commit of charge inserts (gateway/charging/insert_batch.py) against the real PostgreSQL: each caller gets
its own row's answer, concurrent charges share transactions, and a key reused, a key revoked or a row refused touch
nothing but their own row. A row's transaction is told by its xmin (the id of the transaction that wrote it)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.access.api_keys import split_token
from gateway.access.store import create_api_key, revoke_api_key
from gateway.charging import store
from gateway.charging.insert_batch import ChargeInserts
from gateway.core.charge import Charge
from gateway.platform.db import create_pool
from loadtests.charge_cost import new_charge


def _charge(office: int = 1) -> Charge:
    now = datetime.now(UTC)
    return new_charge(office, now, now + timedelta(minutes=1))


def _insert(charge: Charge, key: str | None = None, key_id: str | None = None) -> store.ChargeInsert:
    return store.ChargeInsert(charge, key or f"batch-{charge.id.hex}", b"hash", key_id)


async def _stored(db, charge_ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await db.fetch("SELECT id, stan, xmin::text AS xact FROM charges WHERE id = ANY($1::uuid[])", charge_ids)
    return {row["id"]: row for row in rows}


async def _new_key_id(db) -> str:
    key_id, _ = split_token(await create_api_key(db, role="terminal", terminal_id="10000001"))
    return key_id


async def _insert_all(inserts: ChargeInserts, batch: list[store.ChargeInsert]) -> list:
    """Each insert's STAN, None (its key was used already) or its exception, in order."""
    results = await asyncio.gather(*(inserts.insert(insert) for insert in batch), return_exceptions=True)
    return [result.stan if isinstance(result, store.StoredCharge) else result for result in results]


async def test_concurrent_callers_each_get_their_own_stan(pool, db):
    charges = [_charge(office) for office in range(40)]

    stans = await _insert_all(ChargeInserts(pool), [_insert(charge) for charge in charges])

    stored = await _stored(db, [charge.id for charge in charges])
    assert all(isinstance(stan, str) for stan in stans), stans
    assert stans == [stored[charge.id]["stan"] for charge in charges]
    assert len(set(stans)) == len(charges)


async def test_concurrent_charges_take_fewer_insert_transactions_than_charges(pool, db):
    charges = [_charge(office) for office in range(100)]

    await _insert_all(ChargeInserts(pool, max_batch=64), [_insert(charge) for charge in charges])

    transactions = {row["xact"] for row in (await _stored(db, [charge.id for charge in charges])).values()}
    assert len(transactions) <= math.ceil(100 / 64), transactions


async def test_an_insert_into_an_idle_batcher_is_sent_at_once(pool, db):
    """No timer gathers a batch: alone, an insert takes what its statement takes, in a transaction of its own."""
    inserts = ChargeInserts(pool)
    alone, batched, charges = [], [], []
    for _ in range(15):
        direct, grouped = _charge(), _charge()
        charges.append(grouped)
        started = time.perf_counter()
        await store.insert_charges(pool, [_insert(direct)])
        alone.append(time.perf_counter() - started)
        started = time.perf_counter()
        await inserts.insert(_insert(grouped))
        batched.append(time.perf_counter() - started)

    assert min(batched) <= min(alone) + 0.002, (min(batched), min(alone))
    stored = await _stored(db, [charge.id for charge in charges])
    assert len({row["xact"] for row in stored.values()}) == len(charges)


async def test_a_key_repeated_within_one_batch_stores_one_charge_and_the_other_replays(pool, db):
    first, second = _charge(), _charge()

    stans = await _insert_all(ChargeInserts(pool), [_insert(first, "same-key"), _insert(second, "same-key")])

    stored = await _stored(db, [first.id, second.id])
    assert len(stored) == 1, stored
    [winner] = stored
    assert sorted(stans, key=str) == sorted([stored[winner]["stan"], None], key=str)
    assert (await store.find_idempotency_key(db, first.office_id, "same-key"))["charge_id"] == winner


async def test_a_key_used_by_an_earlier_batch_replays(pool, db):
    inserts = ChargeInserts(pool)
    first, again = _charge(), _charge()

    assert isinstance(await inserts.insert(_insert(first, "used-before")), store.StoredCharge)
    assert await inserts.insert(_insert(again, "used-before")) is None

    assert list(await _stored(db, [first.id, again.id])) == [first.id]


async def test_a_revoked_key_among_good_ones_writes_nothing_of_its_own(pool, db):
    live, revoked = await _new_key_id(db), await _new_key_id(db)
    assert await revoke_api_key(db, revoked)
    good, bad, unkeyed = _charge(), _charge(), _charge()

    results = await _insert_all(
        ChargeInserts(pool), [_insert(good, key_id=live), _insert(bad, key_id=revoked), _insert(unkeyed)]
    )

    assert isinstance(results[0], str) and isinstance(results[2], str), results
    assert isinstance(results[1], store.KeyRevoked), results
    stored = await _stored(db, [good.id, bad.id, unkeyed.id])
    assert set(stored) == {good.id, unkeyed.id}
    assert stored[good.id]["xact"] == stored[unkeyed.id]["xact"]  # they went together
    assert await store.find_idempotency_key(db, bad.office_id, f"batch-{bad.id.hex}") is None


async def test_a_row_refused_by_postgresql_fails_alone_and_its_neighbours_are_stored(pool, db):
    good, bad, other = _charge(), dataclasses.replace(_charge(), amount=0), _charge()

    results = await _insert_all(ChargeInserts(pool), [_insert(good), _insert(bad), _insert(other)])

    assert isinstance(results[0], str) and isinstance(results[2], str), results
    assert isinstance(results[1], asyncpg.CheckViolationError), results
    assert set(await _stored(db, [good.id, bad.id, other.id])) == {good.id, other.id}
    assert await store.find_idempotency_key(db, bad.office_id, f"batch-{bad.id.hex}") is None


@pytest.mark.parametrize("size", [1, 3])
async def test_a_closed_pool_fails_every_caller_of_the_batch_and_none_waits(database_url, size):
    pool = await create_pool(database_url, 1)
    await pool.close()

    results = await _insert_all(ChargeInserts(pool), [_insert(_charge()) for _ in range(size)])

    assert all(isinstance(result, asyncpg.InterfaceError) for result in results), results
