"""One-time codes for filing a complaint, kept in Redis: six digits, stored as an HMAC (never in clear), valid for
a few minutes and a few tries, and asked for at most so often per mobile and per client address. Redis keys name
mobiles only by an HMAC."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from gateway.core.errors import ComplaintCodeInvalid, RateLimited

CODE_TTL_S = 300
MAX_TRIES = 5
PER_MOBILE_PER_HOUR = 5
PER_ADDRESS_PER_HOUR = 20
_HOUR = 3600

# Counts a try and answers the stored digest, in one step; deletes the code after the last try.
_TRY = """
local digest = redis.call('HGET', KEYS[1], 'digest')
if not digest then return false end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries >= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
return digest
"""


@dataclass
class ComplaintCodes:
    redis: aioredis.Redis | RedisCluster
    key: bytes  # HMAC key of the stored digests

    def _digest(self, tracking_code: str, mobile: str, code: str) -> str:
        message = f"{tracking_code}:{mobile}:{code}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def _pseudonym(self, text: str) -> str:
        """Keys name no mobile in clear."""
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()[:32]

    def _slot(self, tracking_code: str, mobile: str) -> str:
        return f"pishkhan:complaint-code:{self._pseudonym(f'{tracking_code}:{mobile}')}"

    async def _count(self, key: str, limit: int) -> None:
        count = await self.redis.incr(key)
        if count == 1:
            await self.redis.expire(key, _HOUR)
        if count > limit:
            raise RateLimited(
                "Too many codes asked for; try again later. / درخواست کد بیش از حد مجاز است؛ بعداً دوباره بکوشید.",
                retry_after=max(1, await self.redis.ttl(key)),
            )

    async def count_request(self, mobile: str, client_address: str) -> None:
        """Counts a request for a code, whatever comes of it; RateLimited over either limit."""
        await self._count(f"pishkhan:complaint-code-mobile:{self._pseudonym(mobile)}", PER_MOBILE_PER_HOUR)
        await self._count(f"pishkhan:complaint-code-address:{client_address}", PER_ADDRESS_PER_HOUR)

    async def issue(self, tracking_code: str, mobile: str) -> str:
        code = f"{secrets.randbelow(1_000_000):06d}"
        slot = self._slot(tracking_code, mobile)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(slot)
            pipe.hset(slot, mapping={"digest": self._digest(tracking_code, mobile, code), "tries": 0})
            pipe.expire(slot, CODE_TTL_S)
            await pipe.execute()
        return code

    async def check(self, tracking_code: str, mobile: str, code: str) -> None:
        """Accepts the code once; ComplaintCodeInvalid for a wrong, expired, used or never issued one."""
        slot = self._slot(tracking_code, mobile)
        stored = await self.redis.eval(_TRY, 1, slot, MAX_TRIES)
        expected = stored.decode() if isinstance(stored, bytes) else stored
        if not expected or not hmac.compare_digest(expected, self._digest(tracking_code, mobile, code)):
            raise ComplaintCodeInvalid(param="code")
        await self.redis.delete(slot)
