"""Group commit of charge inserts and completions (gateway/charging/group_commit.py) against the real PostgreSQL:
each caller gets its own row's answer, concurrent charges share transactions, and a key reused, a key revoked, a
receipt chain moved, a charge claimed since or a row refused touch nothing but their own row. A row's transaction is
told by its xmin (the id of the transaction that wrote it)."""

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
from gateway.charging.group_commit import ChargeCompletions, ChargeInserts, GroupCommit
from gateway.core.charge import Charge
from gateway.platform import metrics
from gateway.platform.db import create_pool
from loadtests.charge_cost import new_charge, new_completion
from receipts.chain import genesis_hash


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


@pytest.mark.parametrize("max_in_flight", [1, 2])
async def test_a_caller_answered_by_the_last_batch_in_flight_can_write_again_at_once(max_in_flight):
    """The batcher alone (its statement an echo): a caller woken by the answer of the batch that emptied the queue
    writes again before the finished sender's task is done; the slot must already be free, or that write would wait
    for a sender that never comes."""

    async def echo(batch):
        return list(batch)

    commit = GroupCommit(echo, metrics.CHARGE_INSERT_BATCH, max_in_flight=max_in_flight)

    async def write_after_write() -> list[str]:
        return [await commit.submit("first"), await commit.submit("second")]

    assert (
        await asyncio.wait_for(asyncio.gather(*(write_after_write() for _ in range(max_in_flight))), 2)
        == [["first", "second"]] * max_in_flight
    )


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


# Completions. Each test's charges are of offices of their own, so their receipt chains start at the genesis.


def _fresh_office_charge() -> Charge:
    return dataclasses.replace(_charge(), office_id=f"office-{uuid.uuid4().hex[:12]}")


async def _pending(db, charge: Charge) -> Charge:
    [result] = await store.insert_charges(db, [_insert(charge)])
    assert isinstance(result, store.StoredCharge)
    return charge


def _completion(charge: Charge, *, seq: int = 1, prev_hash: str | None = None, epoch: int = 0) -> store.Completion:
    completion = new_completion(charge, seq, prev_hash or genesis_hash(charge.office_id), datetime.now(UTC))
    return dataclasses.replace(completion, epoch=epoch)


async def _complete_all(completions: ChargeCompletions, batch: list[store.Completion]) -> list:
    return await asyncio.gather(*(completions.complete(c) for c in batch), return_exceptions=True)


async def _written(db, charge_id: uuid.UUID) -> dict:
    """What a completion of the charge wrote: its status and transaction, its receipts' sequence numbers, its outbox
    rows and its office's chain head."""
    charge = await db.fetchrow("SELECT status, office_id, xmin::text AS xact FROM charges WHERE id = $1", charge_id)
    head = await store.chain_head(db, charge["office_id"])
    return {
        "status": charge["status"],
        "xact": charge["xact"],
        "receipts": [row["seq"] for row in await db.fetch("SELECT seq FROM receipts WHERE charge_id = $1", charge_id)],
        "messages": await db.fetchval("SELECT count(*) FROM outbox WHERE charge_id = $1", charge_id),
        "head_seq": head[0] if head else 0,
    }


async def test_concurrent_completions_share_a_transaction_and_each_writes_its_own_rows(pool, db):
    charges = [await _pending(db, _fresh_office_charge()) for _ in range(12)]

    results = await _complete_all(ChargeCompletions(pool), [_completion(charge) for charge in charges])

    assert results == [True] * len(charges)
    written = [await _written(db, charge.id) for charge in charges]
    assert all(w["status"] == "completed" and w["receipts"] == [1] and w["messages"] == 2 for w in written), written
    assert all(w["head_seq"] == 1 for w in written), written
    # All in one: the callers queue in one event-loop turn, before the batch's sender first runs.
    assert len({w["xact"] for w in written}) == 1, written


async def test_a_completion_whose_chain_moved_writes_nothing_and_its_neighbours_complete(pool, db):
    good, moved, other = [await _pending(db, _fresh_office_charge()) for _ in range(3)]
    ahead = await _pending(db, dataclasses.replace(_charge(), office_id=moved.office_id))
    assert await ChargeCompletions(pool).complete(_completion(ahead)) is True  # seq 1 of the office is taken

    results = await _complete_all(ChargeCompletions(pool), [_completion(good), _completion(moved), _completion(other)])

    assert results[0] is True and results[2] is True, results
    assert isinstance(results[1], store.ChainMoved), results
    written = await _written(db, moved.id)
    assert (written["status"], written["receipts"], written["messages"], written["head_seq"]) == ("created", [], 0, 1)
    assert (await _written(db, good.id))["xact"] == (await _written(db, other.id))["xact"]


async def test_a_completion_signed_after_another_receipt_of_the_same_seq_is_told_the_chain_moved(pool, db):
    """The head is at the seq the receipt follows, but its hash is another receipt's: the chain moved as well."""
    ahead = await _pending(db, _fresh_office_charge())
    assert await ChargeCompletions(pool).complete(_completion(ahead)) is True
    late = await _pending(db, dataclasses.replace(_charge(), office_id=ahead.office_id))

    results = await _complete_all(ChargeCompletions(pool), [_completion(late, seq=2, prev_hash="f" * 64)])

    assert isinstance(results[0], store.ChainMoved), results
    assert (await _written(db, late.id))["status"] == "created"
    assert (await store.chain_head(db, ahead.office_id))[0] == 1


async def test_a_charge_claimed_since_its_completer_read_it_is_left_as_it_is(pool, db):
    good, claimed = [await _pending(db, _fresh_office_charge()) for _ in range(2)]
    await db.execute("UPDATE charges SET claim_epoch = claim_epoch + 1 WHERE id = $1", claimed.id)

    results = await _complete_all(ChargeCompletions(pool), [_completion(good), _completion(claimed, epoch=0)])

    assert results == [True, False]
    written = await _written(db, claimed.id)
    assert (written["status"], written["receipts"], written["messages"], written["head_seq"]) == ("created", [], 0, 0)


async def test_a_completion_refused_by_postgresql_fails_alone_and_its_neighbours_complete(pool, db):
    good, bad, other = [await _pending(db, _fresh_office_charge()) for _ in range(3)]

    results = await _complete_all(
        ChargeCompletions(pool), [_completion(good), _completion(bad, seq=0), _completion(other)]
    )

    assert results[0] is True and results[2] is True, results
    assert isinstance(results[1], asyncpg.CheckViolationError), results  # a receipt's seq starts at 1
    written = await _written(db, bad.id)
    assert (written["status"], written["receipts"], written["head_seq"]) == ("created", [], 0)


async def test_two_processes_completing_at_the_same_place_in_one_chain_write_one_receipt(pool, db):
    """Two gateway processes (two batchers), each with a completion of the same office signed at seq 1: one gets the
    place, the other is told the chain moved and writes nothing. Repeated, as it is a race."""
    for _ in range(10):
        first = await _pending(db, _fresh_office_charge())
        second = await _pending(db, dataclasses.replace(_charge(), office_id=first.office_id))
        fillers = [await _pending(db, _fresh_office_charge()) for _ in range(2)]
        first_completion, second_completion = _completion(first), _completion(second)

        [[first_result, filler_one], [second_result, filler_two]] = await asyncio.gather(
            _complete_all(ChargeCompletions(pool), [first_completion, _completion(fillers[0])]),
            _complete_all(ChargeCompletions(pool), [second_completion, _completion(fillers[1])]),
        )

        assert filler_one is True and filler_two is True
        assert {first_result, second_result} & {True} == {True}, (first_result, second_result)
        winner, loser = (first_completion, second) if first_result is True else (second_completion, first)
        assert isinstance(first_result if loser is first else second_result, store.ChainMoved)
        receipts = await db.fetch("SELECT seq, charge_id FROM receipts WHERE office_id = $1", first.office_id)
        assert [(row["seq"], row["charge_id"]) for row in receipts] == [(1, winner.charge_id)]
        assert await store.chain_head(db, first.office_id) == (1, winner.receipt_hash)
        assert (await _written(db, loser.id))["status"] == "created"


async def test_a_lone_completion_finding_its_receipt_place_taken_is_told_the_chain_moved(pool, db):
    """The head says the place is free but a receipt holds it (the receipts' primary key): the statement is refused,
    and a completion sent alone is told the chain moved, as a moved head tells it."""
    taken = await _pending(db, _fresh_office_charge())
    completion = _completion(taken)
    assert await ChargeCompletions(pool).complete(completion) is True
    await db.execute(
        "UPDATE receipt_chain_heads SET last_seq = 0, last_hash = $2 WHERE office_id = $1",
        taken.office_id,
        completion.prev_hash,
    )
    late = await _pending(db, dataclasses.replace(_charge(), office_id=taken.office_id))

    with pytest.raises(store.ChainMoved):
        await ChargeCompletions(pool).complete(
            dataclasses.replace(_completion(late), completed_at=completion.completed_at)
        )

    assert (await _written(db, late.id))["status"] == "created"
