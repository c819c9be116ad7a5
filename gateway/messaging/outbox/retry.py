"""When to try a message again: exponential backoff with jitter, never sooner than the provider asked."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_MAX_DOUBLINGS = 30  # far past any cap; keeps 2**n a small number


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 2.0  # seconds; the ceiling before the second attempt
    cap: float = 600.0  # seconds; the ceiling never grows past this
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1, 2, ...).

        The ceiling doubles with each attempt up to `cap`; the delay is drawn from its upper half ("equal
        jitter"), so dispatchers that failed together spread out, yet none retries almost at once. A provider's
        Retry-After (429) is a floor.
        """
        ceiling = min(self.cap, self.base * 2 ** min(max(attempt - 1, 0), _MAX_DOUBLINGS))
        jittered = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        return max(jittered, retry_after or 0.0)
