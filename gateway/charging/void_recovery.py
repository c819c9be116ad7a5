"""The void recovery worker: drives every pending void to reversed or refused by asking the PSP what it holds.

Claims work like the charge recovery worker's (FOR UPDATE SKIP LOCKED, a lease, a new claim epoch that fences out
the previous holder). For each void: inquiry on the original purchase first, then `voids.decide_void`: reversed →
issue the cancellation receipt; still held → send the reversal again (idempotent at the PSP); settled → refused,
a refund instead; anything else → retry later with backoff. Only an explicit PSP answer finishes a void.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gateway.charging import store, void_store
from gateway.charging.psp_pool import PspPool
from gateway.charging.voids import VoidService
from gateway.core.clock import Clock, system_clock
from gateway.core.psp import TxnState
from gateway.core.recovery_rules import backoff
from gateway.core.voids import Void, VoidAction, decide_void
from gateway.platform import metrics

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # an inquiry and a reversal, each bounded by the PSP timeout, many times over


class VoidRecoveryWorker:
    def __init__(
        self,
        pool,
        psps: PspPool,
        voids: VoidService,
        *,
        batch: int = 50,
        concurrency: int = 10,
        clock: Clock = system_clock,
    ) -> None:
        self.pool = pool
        self.psps = psps
        self.voids = voids
        self.batch = batch
        self.clock = clock
        self._limit = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        now = self.clock()
        due = await void_store.claim_due_voids(self.pool, now, now + LEASE, self.batch)
        await asyncio.gather(*(self._guarded(void) for void in due))
        return len(due)

    async def _guarded(self, void: Void) -> None:
        async with self._limit:
            try:
                await self.resolve(void)
            except Exception:
                log.exception("recovery of void %s failed; it stays pending", void.id)
                await self._postpone(void, "recovery error")

    async def resolve(self, void: Void) -> None:
        charge = await store.get_charge(self.pool, void.charge_id)
        assert charge is not None
        with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation="inquire").time():
            inquiry = await self.psps.adapter(charge.psp_id).inquire(charge.txn_ref())
        state = inquiry.state or TxnState.UNKNOWN
        action = decide_void(state)
        metrics.VOID_RECOVERY_ACTIONS.labels(action=action.value).inc()
        match action:
            case VoidAction.COMPLETE:
                await self.voids.complete(void, charge)
            case VoidAction.REVERSE:
                await self.voids.reverse(void, charge, retry_delay=backoff(void.recovery_attempts))
            case VoidAction.MARK_REFUSED:
                await self.voids.refuse(void, inquiry.response_code, "inquiry: settled, no longer reversible")
            case VoidAction.RETRY_LATER:
                await self._postpone(void, f"inquiry: {state}")

    async def _postpone(self, void: Void, note: str) -> None:
        await void_store.postpone_void(
            self.pool,
            void.id,
            epoch=void.claim_epoch,
            next_at=self.clock() + backoff(void.recovery_attempts),
            note=note,
        )
