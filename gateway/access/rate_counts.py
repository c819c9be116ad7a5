"""Requests counted per minute in Redis: the counters a request spends, the Lua that spends them, and the 429 when
one is spent. The edge counts most requests on its own (gateway/web/rate_limit.py); the charge route hands its
count to the terminal lock, whose script spends it in the same round trip (gateway/charging/terminal_lock.py).

Fixed one-minute windows: a counter per key and per terminal, named after the window, expiring with it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from gateway.core.errors import RateLimited

WINDOW_S = 60

# Spends one request on KEYS[first..]; ARGV[window_arg] is the window in milliseconds. Leaves `counts`.
COUNT_LUA = """
local counts = {}
for i = %(first)d, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[%(window_arg)d]) end
  counts[#counts + 1] = count
end
"""


@dataclass(frozen=True)
class Counter:
    scope: str  # what the caller is told is spent: key, terminal, address
    key: str
    allowed: int


def check_counts(counters: Sequence[Counter], counts: Sequence[int], now: float) -> None:
    """Raises 429 with Retry-After (the rest of the window) if a counter went past its allowance."""
    for counter, count in zip(counters, counts, strict=True):
        if count > counter.allowed:
            retry_after = max(1, math.ceil((now // WINDOW_S + 1) * WINDOW_S - now))
            raise RateLimited(
                f"Too many requests for this {counter.scope}: at most {counter.allowed} a minute. "
                f"Retry after {retry_after} s.",
                details={"scope": counter.scope, "limit": counter.allowed, "retry_after": retry_after},
                retry_after=retry_after,
            )


@dataclass
class PendingCount:
    """One request's count, not yet spent: whoever spends it first (the terminal lock's script, or `spend` on
    a path that reaches no lock) spends it for the request, once."""

    counters: list[Counter]
    now: float
    spend_alone: Callable[[list[Counter], float], Awaitable[None]]
    spent: bool = field(default=False)

    @property
    def hash_tag(self) -> str | None:
        """The Redis Cluster hash tag all the counters share (the office of a terminal key), if they share one."""
        tags = {counter.key.partition("{")[2].partition("}")[0] for counter in self.counters}
        return tags.pop() if len(tags) == 1 else None

    async def spend(self) -> None:
        """Spends the count in a round trip of its own, unless it is spent already; raises 429 once over."""
        if not self.spent:
            self.spent = True
            await self.spend_alone(self.counters, self.now)

    def spent_in_script(self, counts: Sequence[int]) -> None:
        """Takes the counts a script spent for this request; raises 429 once over."""
        self.spent = True
        check_counts(self.counters, counts, self.now)
