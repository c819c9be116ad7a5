"""What the void and the refund recovery workers share: each pass claims the pending voids or refunds that are due
(FOR UPDATE SKIP LOCKED, a lease, a new claim epoch that fences out the previous holder, as for charges) and resolves
them a few at a time; one whose resolution fails stays pending and is tried again after a backoff. How each is
resolved is in gateway/charging/void_recovery.py and refund_recovery.py.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, InitVar, dataclass
from datetime import timedelta
from typing import Any, Generic

from gateway.charging import store
from gateway.charging.way_back import WayBackService
from gateway.charging.way_back_store import W
from gateway.core.charge import Charge
from gateway.core.clock import Clock, system_clock

log = logging.getLogger(__name__)

# An inquiry and a reversal (a void), or one instruction (a refund), each bounded by the PSP timeout, many times over.
LEASE = timedelta(seconds=60)


@dataclass(eq=False)
class WayBackRecoveryWorker(ABC, Generic[W]):
    pool: Any
    service: WayBackService[W]
    _: KW_ONLY
    batch: int = 50
    concurrency: InitVar[int] = 10
    clock: Clock = system_clock

    def __post_init__(self, concurrency: int) -> None:
        self._limit = asyncio.Semaphore(concurrency)

    @abstractmethod
    async def resolve(self, way_back: W, charge: Charge) -> None:
        """Drives one claimed void or refund towards its final state."""

    @abstractmethod
    async def _after_error(self, way_back: W) -> None:
        """Leaves one whose resolution failed pending, to be tried again after a backoff."""

    async def run_once(self) -> int:
        now = self.clock()
        due = await self.service.store.claim_due(self.pool, now, now + LEASE, self.batch)
        await asyncio.gather(*(self._guarded(way_back) for way_back in due))
        return len(due)

    async def _guarded(self, way_back: W) -> None:
        async with self._limit:
            try:
                charge = await store.get_charge(self.pool, way_back.charge_id)
                assert charge is not None
                await self.resolve(way_back, charge)
            except Exception:
                log.exception("recovery of %s %s failed; it stays pending", self.service.kind, way_back.id)
                await self._after_error(way_back)
