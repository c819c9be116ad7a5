"""What a request spends once in Redis: its counts against the per-minute rate limits and, for a signed request, its
nonce; the Lua that spends them, and the errors when a limit is spent (429) or the nonce was spent before (401).
The edge spends most requests' on its own (gateway/web/rate_limit.py, gateway/web/request_signing.py); the charge
route hands its request's to the terminal lock, whose script spends them in the same round trip
(gateway/charging/terminal_lock.py).

Fixed one-minute windows: a counter per key and per terminal, named after the window, expiring with it. A nonce is
remembered for its lifetime (twice the signed timestamp's allowed skew). Every key is hash-tagged like the caller's
other keys (`redis_tag`), so the keys one script touches meet in one Redis Cluster slot.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from gateway.access.api_keys import Principal
from gateway.core.errors import NonceReplayed, RateLimited, ServiceUnavailable

WINDOW_S = 60

# Spends one request: its nonce first when ARGV[nonce_arg] (the nonce's lifetime in ms) is not 0, on KEYS[first]
# (a nonce spent before returns nil and spends nothing more), then a count on each key after it; ARGV[window_arg] is
# the window in milliseconds. Leaves `counts`.
SPEND_LUA = """
local first = %(first)d
if ARGV[%(nonce_arg)d] ~= '0' then
  if not redis.call('SET', KEYS[first], '1', 'NX', 'PX', ARGV[%(nonce_arg)d]) then return nil end
  first = first + 1
end
local counts = {}
for i = first, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[%(window_arg)d]) end
  counts[#counts + 1] = count
end
"""


def redis_tag(caller: Principal) -> str:
    """The hash tag of a caller's keys: its terminal's office (an office's keys meet in one slot), else its key."""
    return caller.office_id if caller.terminal_id and caller.office_id else f"key:{caller.key_id}"


@dataclass(frozen=True)
class Counter:
    scope: str  # what the caller is told is spent: key, terminal, address
    key: str
    allowed: int


@dataclass(frozen=True)
class Nonce:
    key: str
    lifetime_ms: int


def nonce_unavailable() -> ServiceUnavailable:
    """Without the nonce store a replay cannot be told from a first request: refuse, never guess."""
    return ServiceUnavailable("The gateway cannot check signed requests right now; retry shortly.", retry_after=1)


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
    """One request's count and nonce (if signed), not yet spent: whoever spends them first (the terminal lock's
    script, or `spend` on a path that reaches no lock) spends them for the request, once."""

    counters: list[Counter]
    now: float
    spend_alone: Callable[[list[Counter], float, Nonce | None], Awaitable[None]]
    nonce: Nonce | None = None
    spent: bool = field(default=False)

    @property
    def keys(self) -> list[str]:
        """The keys a spending script takes, in its order: the nonce's, then the counters'."""
        return [*([self.nonce.key] if self.nonce else []), *(counter.key for counter in self.counters)]

    @property
    def nonce_lifetime_ms(self) -> int:
        """The script's nonce argument: 0 when there is no nonce to spend."""
        return self.nonce.lifetime_ms if self.nonce else 0

    @property
    def hash_tag(self) -> str | None:
        """The Redis Cluster hash tag all the keys share (the office of a terminal key), if they share one."""
        tags = {key.partition("{")[2].partition("}")[0] for key in self.keys}
        return tags.pop() if len(tags) == 1 else None

    async def spend(self) -> None:
        """Spends the count and nonce in a round trip of their own, unless spent already; raises 401 for a nonce
        spent before, 429 once over a limit."""
        if not self.spent:
            self.spent = True
            await self.spend_alone(self.counters, self.now, self.nonce)

    def spent_in_script(self, counts: Sequence[int] | None) -> None:
        """Takes what a script spent for this request (None: its nonce was spent before); raises 401 or 429."""
        self.spent = True
        if counts is None:
            raise NonceReplayed()
        check_counts(self.counters, counts, self.now)
