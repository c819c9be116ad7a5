"""Requests a minute per API key and per terminal (across all of its keys), counted in Redis.

Fixed one-minute windows: a counter per key and per terminal, named after the window, incremented by one Lua script
(one round trip) and expiring with its window. Only authenticated requests count, so nobody can spend another
client's allowance by sending its key id with a wrong secret. Terminal counters are hash-tagged by office, like every
other office key, so one script touches one Redis Cluster slot.

When Redis cannot be reached the request goes through (and a warning is logged): the limit protects capacity and
must not itself take the gateway down.
"""

from __future__ import annotations

import logging
import math
import time

from redis.exceptions import RedisError

from gateway.access.api_keys import Principal
from gateway.core.errors import RateLimited

log = logging.getLogger(__name__)
WINDOW_S = 60

_COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return counts
"""


class RateLimiter:
    def __init__(self, redis, *, per_key: int, per_terminal: int, per_address: int = 0, clock=time.time) -> None:
        self.per_key = per_key
        self.per_terminal = per_terminal
        self.per_address = per_address
        self.clock = clock
        self._count = redis.register_script(_COUNT)

    def _counters(self, caller: Principal, window: int) -> list[tuple[str, str, int]]:
        """(scope, Redis key, allowed) for every limit that applies to the caller."""
        tag = caller.office_id if caller.terminal_id else f"key:{caller.key_id}"
        counters = [("key", f"pishkhan:{{{tag}}}:rate:{window}:key:{caller.key_id}", self.per_key)]
        if caller.terminal_id:
            counters.append(
                ("terminal", f"pishkhan:{{{tag}}}:rate:{window}:terminal:{caller.terminal_id}", self.per_terminal)
            )
        return [counter for counter in counters if counter[2] > 0]

    async def check(self, caller: Principal) -> None:
        """Counts one request; raises 429 with Retry-After once a limit is spent for the current window."""
        now = self.clock()
        window = int(now // WINDOW_S)
        await self._spend(self._counters(caller, window), now, window)

    async def check_address(self, address: str) -> None:
        """Counts one request without a key from this client address (the public routes)."""
        if self.per_address <= 0:
            return
        now = self.clock()
        window = int(now // WINDOW_S)
        key = f"pishkhan:{{public:{address}}}:rate:{window}"
        await self._spend([("address", key, self.per_address)], now, window)

    async def _spend(self, counters: list[tuple[str, str, int]], now: float, window: int) -> None:
        if not counters:
            return
        try:
            counts = await self._count(keys=[key for _, key, _ in counters], args=[WINDOW_S * 1000])
        except RedisError as error:
            log.warning("rate limit not checked, Redis unavailable: %s", type(error).__name__)
            return
        for (scope, _, allowed), count in zip(counters, counts, strict=True):
            if count > allowed:
                retry_after = max(1, math.ceil((window + 1) * WINDOW_S - now))
                raise RateLimited(
                    f"Too many requests for this {scope}: at most {allowed} a minute. Retry after {retry_after} s.",
                    details={"scope": scope, "limit": allowed, "retry_after": retry_after},
                    retry_after=retry_after,
                )
