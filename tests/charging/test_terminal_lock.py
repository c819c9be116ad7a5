"""The terminal lock spends the charge request's rate-limit count in its own script: one Redis round trip. A release
goes with the next script, ahead of it, or alone after a short delay."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from gateway.access.rate_counts import Counter, Nonce, PendingCount
from gateway.charging.terminal_lock import TerminalLocks, lock_token
from gateway.core.errors import NonceReplayed, RateLimited
from tests.charging.support import until_free

NOW = 1_800_000_020.0  # 20 s into a minute


@pytest.fixture
async def locks(redis_url):
    redis = aioredis.Redis.from_url(redis_url)
    locks = TerminalLocks(redis, hold_seconds=5, pending_hold_seconds=60)
    yield locks
    await locks.close()
    await redis.aclose()


async def _no_round_trip_of_its_own(counters: list[Counter], now: float, nonce: Nonce | None) -> None:
    raise AssertionError("the count was spent in a round trip of its own")


def _count(office: str, key_id: str, allowed: int) -> PendingCount:
    counter = Counter("key", f"pishkhan:{{{office}}}:rate:{int(NOW // 60)}:key:{key_id}", allowed)
    return PendingCount([counter], NOW, _no_round_trip_of_its_own)


async def test_the_count_is_spent_in_the_lock_script_and_a_request_over_its_limit_takes_no_terminal(locks):
    office, key_id = "11110001", uuid.uuid4().hex
    terminals = [f"t-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    counts = [_count(office, key_id, allowed=2) for _ in terminals]

    first = await locks.acquire(office, terminals[0], lock_token(uuid.uuid4(), "a"), counts[0])
    second = await locks.acquire(office, terminals[1], lock_token(uuid.uuid4(), "b"), counts[1])
    with pytest.raises(RateLimited) as over:
        await locks.acquire(office, terminals[2], lock_token(uuid.uuid4(), "c"), counts[2])

    assert first.taken and second.taken and all(count.spent for count in counts)
    assert over.value.details == {"scope": "key", "limit": 2, "retry_after": 40}
    assert await locks.holder(office, terminals[2]) is None
    for terminal, lock in zip(terminals, (first, second), strict=False):
        locks.release(office, terminal, lock.token)


async def test_a_count_on_another_slot_is_spent_on_its_own_first(locks):
    spent_alone: list[list[Counter]] = []

    async def alone(counters: list[Counter], now: float, nonce: Nonce | None) -> None:
        spent_alone.append(counters)

    counter = Counter("key", f"pishkhan:{{99990009}}:rate:{int(NOW // 60)}:key:k", 5)
    count = PendingCount([counter], NOW, alone)
    terminal = f"t-{uuid.uuid4().hex[:8]}"

    lock = await locks.acquire("11110001", terminal, lock_token(uuid.uuid4(), "a"), count)

    assert lock.taken and count.spent and spent_alone == [[counter]]
    locks.release("11110001", terminal, lock.token)


async def test_a_nonce_is_spent_in_the_lock_script_once_and_a_replay_takes_nothing(locks):
    office, key_id = "11110001", uuid.uuid4().hex
    nonce = Nonce(f"pishkhan:{{{office}}}:nonce:{key_id}:{uuid.uuid4().hex}", 60_000)
    counter_key = f"pishkhan:{{{office}}}:rate:{int(NOW // 60)}:key:{key_id}"
    terminals = [f"t-{uuid.uuid4().hex[:8]}" for _ in range(2)]

    def signed_count() -> PendingCount:
        return PendingCount([Counter("key", counter_key, 10)], NOW, _no_round_trip_of_its_own, nonce)

    first = await locks.acquire(office, terminals[0], lock_token(uuid.uuid4(), "a"), signed_count())
    replay = signed_count()
    with pytest.raises(NonceReplayed):
        await locks.acquire(office, terminals[1], lock_token(uuid.uuid4(), "b"), replay)

    assert first.taken and replay.spent
    assert await locks.holder(office, terminals[1]) is None
    assert int(await locks.redis.get(counter_key)) == 1  # the replay spent no count
    assert 0 < await locks.redis.pttl(nonce.key) <= 60_000
    locks.release(office, terminals[0], first.token)


async def test_a_release_goes_ahead_of_the_next_script_in_the_same_write(locks, redis_round_trips):
    office, terminal = "11110001", f"t-{uuid.uuid4().hex[:8]}"
    first = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "a"))
    redis_round_trips.start()

    locks.release(office, terminal, first.token)
    second = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "b"))

    assert redis_round_trips.stop() == [("EVAL", "EVALSHA")]
    assert first.taken and second.taken and await locks.holder(office, terminal) == "b"
    locks.release(office, terminal, second.token)


async def test_a_release_with_no_script_after_it_goes_alone_within_its_delay(locks, redis_round_trips):
    office, terminal = "11110001", f"t-{uuid.uuid4().hex[:8]}"
    lock = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "a"))
    redis_round_trips.start()

    locks.release(office, terminal, lock.token)
    assert redis_round_trips.sent == []
    await until_free(locks.redis, locks._key(office, terminal))

    assert [trip for trip in redis_round_trips.stop() if trip != ("GET",)] == [("EVAL",)]  # the GETs are the test's


async def test_closing_sends_the_releases_still_waiting(locks):
    office, terminal = "11110001", f"t-{uuid.uuid4().hex[:8]}"
    lock = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "a"))
    locks.release(office, terminal, lock.token)

    await locks.close()

    assert await locks.redis.get(locks._key(office, terminal)) is None


async def test_a_server_that_lost_its_scripts_still_runs_a_release_ahead_of_the_script_after_it(locks):
    office, terminal = "11110001", f"t-{uuid.uuid4().hex[:8]}"
    first = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "a"))
    locks.release(office, terminal, first.token)
    await locks.redis.script_flush()  # what a restart does

    second = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "b"))

    assert second.taken and await locks.holder(office, terminal) == "b"
    locks.release(office, terminal, second.token)


async def test_a_stale_holder_that_let_the_terminal_go_meanwhile_leaves_it_to_the_take_over(locks):
    office, terminal = "11110001", f"t-{uuid.uuid4().hex[:8]}"
    stale = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "gone"))
    found = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "next"))
    assert not found.taken and found.holder == "gone"
    await locks.redis.delete(locks._key(office, terminal))  # the stale holder's late release

    taken = await locks.take_over(office, terminal, found, lock_token(uuid.uuid4(), "next"))

    assert stale.taken and taken.taken and await locks.holder(office, terminal) == "next"
    locks.release(office, terminal, taken.token)
