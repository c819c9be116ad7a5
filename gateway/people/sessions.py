"""Sessions of signed-in people, in Redis. The browser holds a random token; Redis holds, under the token's SHA-256,
the username and when the session began. A session ends after `idle` without a request, and `absolute` after it
began whatever the activity: each request moves the key's expiry to the sooner of the two."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import orjson


def _key(kind: str, token: str) -> str:
    return f"pishkhan:{kind}:{hashlib.sha256(token.encode()).hexdigest()}"


@dataclass(frozen=True)
class SessionPolicy:
    idle_s: int
    absolute_s: int


class Sessions:
    def __init__(self, redis, policy: SessionPolicy) -> None:
        self.redis = redis
        self.policy = policy

    async def start(self, username: str, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        value = orjson.dumps({"username": username, "started": now.timestamp()})
        await self.redis.set(_key("session", token), value, ex=self.policy.idle_s)
        return token

    async def username(self, token: str, now: datetime) -> str | None:
        """The session's person, or None once it has ended; a live session's idle time starts again."""
        if not token:
            return None
        key = _key("session", token)
        value = await self.redis.get(key)
        if value is None:
            return None
        session = orjson.loads(value)
        left = session["started"] + self.policy.absolute_s - now.timestamp()
        if left <= 0:
            await self.redis.delete(key)
            return None
        await self.redis.expire(key, max(1, int(min(self.policy.idle_s, left))))
        username: str = session["username"]
        return username

    async def end(self, token: str) -> None:
        if token:
            await self.redis.delete(_key("session", token))

    # The ticket between the two steps of signing in: the password was right, the code is still to come.

    async def issue_ticket(self, username: str, ttl_s: int) -> str:
        token = secrets.token_urlsafe(32)
        await self.redis.set(_key("signin-ticket", token), username, ex=ttl_s)
        return token

    async def ticket_holder(self, token: str) -> str | None:
        if not token:
            return None
        value = await self.redis.get(_key("signin-ticket", token))
        return None if value is None else value.decode()

    async def spend_ticket(self, token: str) -> None:
        await self.redis.delete(_key("signin-ticket", token))
