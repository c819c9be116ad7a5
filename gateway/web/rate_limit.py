"""Requests a minute per API key and per terminal (across all of its keys), counted in Redis.

Fixed one-minute windows: a counter per key and per terminal, named after the window, incremented by one Lua script
(one round trip) and expiring with its window. Only authenticated requests count, so nobody can spend another
client's allowance by sending its key id with a wrong secret. Terminal counters are hash-tagged by office, like every
other office key, so one script touches one Redis Cluster slot. The charge route spends its count inside the
terminal lock's script instead, in the same round trip, with a signed request's nonce (`pending`,
gateway/access/rate_counts.py).

When Redis cannot be reached the request goes through (and a warning is logged): the limit protects capacity and
must not itself take the gateway down. A nonce that cannot be spent refuses its request (503), as at the edge.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from gateway.access.api_keys import Principal
from gateway.access.rate_counts import (
    SPEND_LUA,
    WINDOW_S,
    Counter,
    Nonce,
    PendingCount,
    nonce_unavailable,
    redis_tag,
)

log = logging.getLogger(__name__)

# KEYS: the nonce (if ARGV[2] is not 0), then the counters; ARGV: window ms, nonce lifetime ms.
_SPEND = SPEND_LUA % {"first": 1, "window_arg": 1, "nonce_arg": 2} + "return counts\n"


class RateLimiter:
    def __init__(self, redis, *, per_key: int, per_terminal: int, per_address: int = 0, clock=time.time) -> None:
        self.per_key = per_key
        self.per_terminal = per_terminal
        self.per_address = per_address
        self.clock = clock
        self._spend_script = redis.register_script(_SPEND)

    def _counters(self, caller: Principal, window: int) -> list[Counter]:
        """Every limit that applies to the caller."""
        tag = redis_tag(caller)
        counters = [Counter("key", f"pishkhan:{{{tag}}}:rate:{window}:key:{caller.key_id}", self.per_key)]
        if caller.terminal_id:
            counters.append(
                Counter(
                    "terminal", f"pishkhan:{{{tag}}}:rate:{window}:terminal:{caller.terminal_id}", self.per_terminal
                )
            )
        return [counter for counter in counters if counter.allowed > 0]

    async def check(self, caller: Principal) -> None:
        """Counts one request; raises 429 with Retry-After once a limit is spent for the current window."""
        await self.pending(caller).spend()

    def pending(self, caller: Principal, nonce: Nonce | None = None) -> PendingCount:
        """The caller's count (and nonce) for this request, to be spent by whoever reaches Redis first (see
        rate_counts)."""
        now = self.clock()
        return PendingCount(self._counters(caller, int(now // WINDOW_S)), now, self._spend, nonce)

    async def check_address(self, address: str) -> None:
        """Counts one request without a key from this client address (the public routes)."""
        if self.per_address <= 0:
            return
        now = self.clock()
        key = f"pishkhan:{{public:{address}}}:rate:{int(now // WINDOW_S)}"
        await self._spend([Counter("address", key, self.per_address)], now)

    async def _spend(self, counters: list[Counter], now: float, nonce: Nonce | None = None) -> None:
        if not counters and nonce is None:
            return
        count = PendingCount(counters, now, self._spend, nonce)
        try:
            counts = await self._spend_script(keys=count.keys, args=[WINDOW_S * 1000, count.nonce_lifetime_ms])
        except RedisError as error:
            if nonce is not None:
                raise nonce_unavailable() from None
            log.warning("rate limit not checked, Redis unavailable: %s", type(error).__name__)
            return
        count.spent_in_script(counts)
