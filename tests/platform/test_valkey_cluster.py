"""The gateway against a three-node Valkey cluster (`PISHKHAN_REDIS_CLUSTER=1`): terminal locks, rate limits,
request nonces and the identity inquiry's cache work, and the keys each of them touches in one command or script
share one slot."""

from __future__ import annotations

import dataclasses
import uuid

import orjson
import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from gateway.charging.terminal_lock import TerminalLocks, lock_token
from gateway.core.identity import IdentityPolicy, Verdict
from gateway.identity import CivilRegistryInquiry, IdentityInquiry, ShahkarInquiry
from gateway.platform.redis_client import open_redis
from gateway.web.request_signing import signed_headers
from tests.identity.support import fresh_subject, known_to_both
from tests.security.cli import create_key
from tests.stack import charge_body, served

QUOTE = "/v1/tariffs/quote?service_code=1101"


@pytest.fixture
async def cluster_settings(settings, valkey_cluster):
    return dataclasses.replace(
        settings, redis_url=valkey_cluster.url, redis_cluster=True, terminal_rate_limit_per_minute=3
    )


@pytest.fixture
async def cluster_gateway(cluster_settings, db, http_session):
    async with served(cluster_settings, http_session) as gateway:
        assert isinstance(gateway.services.redis, RedisCluster)
        yield gateway


async def _slots(redis: RedisCluster) -> set[int]:
    return {key_slot(key) async for key in redis.scan_iter(match="pishkhan:*")}


async def test_the_keys_of_one_office_spread_over_the_nodes_but_meet_in_one_slot(cluster_settings):
    redis = open_redis(cluster_settings)
    locks = TerminalLocks(redis, hold_seconds=5, pending_hold_seconds=60)
    try:
        offices = [f"{70000000 + n}" for n in range(30)]
        for office in offices:
            assert (await locks.acquire(office, f"{office}-t", lock_token(uuid.uuid4(), "k"))).taken
        owners = {redis.get_node_from_key(locks._key(office, "x")).port for office in offices}
        assert len(owners) == 3  # thirty offices land on every node of the cluster
        for office in offices:
            await redis.delete(locks._key(office, f"{office}-t"))
    finally:
        await redis.aclose()


async def test_a_terminal_lock_is_taken_once_and_names_its_holder(cluster_settings):
    redis = open_redis(cluster_settings)
    locks = TerminalLocks(redis, hold_seconds=5, pending_hold_seconds=60)
    office, terminal = "71234567", f"t-{uuid.uuid4().hex[:8]}"
    try:
        first = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "first-key"))
        second = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "second-key"))
        assert first.taken and not second.taken and second.holder == "first-key"
        assert await locks.holder(office, terminal) == "first-key"
        locks.release(office, terminal, first.token)
        assert await locks.holder(office, terminal) is None
        # A release waiting goes with the next script, whichever node that script's terminal is on.
        taken = await locks.acquire(office, terminal, lock_token(uuid.uuid4(), "third-key"))
        locks.release(office, terminal, taken.token)
        elsewhere = next(o for o in (f"7{n:07d}" for n in range(100)) if not _same_node(redis, locks, o, office))
        other = await locks.acquire(elsewhere, terminal, lock_token(uuid.uuid4(), "fourth-key"))
        assert other.taken and await locks.holder(office, terminal) is None
        locks.release(elsewhere, terminal, other.token)
        await locks.close()
        assert await locks.holder(elsewhere, terminal) is None
    finally:
        await redis.aclose()


def _same_node(redis, locks: TerminalLocks, office: str, other: str) -> bool:
    return redis.get_node_from_key(locks._key(office, "x")) == redis.get_node_from_key(locks._key(other, "x"))


async def test_both_identity_answers_are_read_and_written_in_one_slot(cluster_settings, civil_registry_url,
                                                                      shahkar_url, registry, shahkar):  # fmt: skip
    redis = open_redis(cluster_settings)
    adapters = [CivilRegistryInquiry(civil_registry_url, "pishkhan", "pishkhan", 2.0),
                ShahkarInquiry(shahkar_url, "pishkhan", "pishkhan", 2.0)]  # fmt: skip
    inquiry = IdentityInquiry(adapters, redis, timeout=2.0, cache_ttl_s=60, cache_key=b"cluster test",
                              breaker_threshold=100, breaker_open_s=1.0)  # fmt: skip
    office, subject = "72345678", fresh_subject()
    await known_to_both(registry, shahkar, subject)
    try:
        first = await inquiry.check(IdentityPolicy.REQUIRED, subject, office)
        again = await inquiry.check(IdentityPolicy.REQUIRED, subject, office)
        cached = [key async for key in redis.scan_iter(match=f"pishkhan:{{{office}}}:identity:*")]
    finally:
        await inquiry.close()
        await redis.aclose()
    assert first.verdict is Verdict.MATCHED and again.results == first.results
    assert (await registry.calls(), await shahkar.calls()) == (1, 1)  # the second answer came from the cache
    assert len(cached) == 2 and len({key_slot(key) for key in cached}) == 1


async def test_charges_rate_limits_and_nonces_through_a_gateway_on_the_cluster(cluster_gateway, keys, database_url):
    gateway = cluster_gateway
    key = await keys("t:10000003")
    status, charge = await gateway.charge(key, charge_body(terminal_id="10000003", operator_id="op-21"))
    assert status == 201 and charge["status"] == "completed", charge

    # The terminal's allowance is 3 a minute: the charge and two quotes spend it, the next is refused.
    answers = [(await gateway.request("GET", QUOTE, key=key))[0] for _ in range(3)]
    assert answers[:2] == [200, 200] and answers[2] == 429

    signing_key = await create_key(
        database_url, "--role", "terminal", "--terminal-id", "10000004", "--require-signature"
    )
    headers = signed_headers(signing_key, "GET", QUOTE)
    first = await gateway.request("GET", QUOTE, headers=headers)
    replay = await gateway.request("GET", QUOTE, headers=headers)
    assert first[0] == 200 and replay[0] == 401, replay
    assert replay[1]["error"]["code"] == "nonce_replayed"

    # A signed charge's nonce is spent in the terminal lock's script: its keys meet in the office's slot.
    body = orjson.dumps(charge_body(terminal_id="10000004", operator_id="op-31"))
    headers = signed_headers(signing_key, "POST", "/v1/charges", body) | {
        "Content-Type": "application/json",
        "Idempotency-Key": uuid.uuid4().hex,
    }
    status, charge = await gateway.request("POST", "/v1/charges", data=body, headers=headers)
    assert status == 201 and charge["status"] == "completed", charge
    replay = await gateway.request("POST", "/v1/charges", data=body, headers=headers)
    assert replay[0] == 401 and replay[1]["error"]["code"] == "nonce_replayed", replay
    assert len(await _slots(gateway.services.redis)) >= 2  # offices and keys spread over the slots
