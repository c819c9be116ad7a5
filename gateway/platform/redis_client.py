"""The Redis (Valkey) client: one server, or a cluster when `PISHKHAN_REDIS_CLUSTER=1` (`REDIS_URL` then names any
one of its nodes; the client learns the others and which slots each serves). Every key the gateway writes carries a
hash tag (`{office}` or `{key id}`), so the keys a script touches meet in one slot."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from gateway.platform.config import Settings


def open_redis(settings: Settings) -> aioredis.Redis | RedisCluster:
    # One quick retry: an unreachable Redis costs a request about twice the timeout, not redis-py's default of
    # ten retries.
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=1),
    }
    if settings.redis_cluster:
        return RedisCluster.from_url(settings.redis_url, **options)
    return aioredis.Redis.from_url(settings.redis_url, **options)
