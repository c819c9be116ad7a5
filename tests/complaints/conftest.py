from __future__ import annotations

import pytest
import redis.asyncio as aioredis


@pytest.fixture(autouse=True)
async def fresh_address_limit(redis_url):
    """Every test here asks for codes from 127.0.0.1: each starts with that address's hourly count at zero."""
    redis = aioredis.Redis.from_url(redis_url)
    await redis.delete("pishkhan:complaint-code-address:127.0.0.1")
    yield
    await redis.aclose()
