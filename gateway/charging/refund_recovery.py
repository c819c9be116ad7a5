"""The refund recovery worker: drives every pending refund to instructed or failed by sending its instruction again.

Claims work like the void recovery worker's (FOR UPDATE SKIP LOCKED, a lease, a new claim epoch that fences out the
previous holder). No inquiry is needed first: the PSP answers a repeated refund of a purchase with the refund it
already took (its RRN), so sending again can never return the money twice. Only an explicit PSP answer finishes a
refund; silence backs off and tries again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gateway.charging import refund_store, store
from gateway.charging.refunds import RefundService
from gateway.core.clock import Clock, system_clock
from gateway.core.recovery_rules import backoff
from gateway.core.refunds import Refund, RefundStatus

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # one instruction, bounded by the PSP timeout, many times over


class RefundRecoveryWorker:
    def __init__(
        self,
        pool,
        refunds: RefundService,
        *,
        batch: int = 50,
        concurrency: int = 10,
        clock: Clock = system_clock,
    ) -> None:
        self.pool = pool
        self.refunds = refunds
        self.batch = batch
        self.clock = clock
        self._limit = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        now = self.clock()
        due = await refund_store.claim_due_refunds(self.pool, now, now + LEASE, self.batch)
        await asyncio.gather(*(self._guarded(refund) for refund in due))
        return len(due)

    async def _guarded(self, refund: Refund) -> None:
        async with self._limit:
            try:
                charge = await store.get_charge(self.pool, refund.charge_id)
                assert charge is not None
                await self.refunds.instruct(refund, charge, retry_delay=backoff(refund.recovery_attempts))
            except Exception:
                log.exception("recovery of refund %s failed; it stays pending", refund.id)
                await refund_store.save_refund_move(
                    self.pool,
                    refund.moved_to(RefundStatus.SENT),
                    at=self.clock(),
                    note="recovery error",
                    next_recovery_at=self.clock() + backoff(refund.recovery_attempts),
                )
