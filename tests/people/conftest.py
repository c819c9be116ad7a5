from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from gateway.people.sessions import SessionPolicy
from gateway.people.signin import SignIn, SignInPolicy

_names = itertools.count(1)


class SetClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
def signin(db, redis, clock) -> SignIn:
    policy = SignInPolicy(max_failures=3, lockout_s=600, session=SessionPolicy(idle_s=60, absolute_s=3600))
    return SignIn(db, redis, policy, clock)


@pytest.fixture
def username() -> str:
    return f"person-{next(_names)}-{datetime.now(UTC).strftime('%H%M%S%f')}"
