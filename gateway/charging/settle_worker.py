"""The settlement worker: the separate settle call, for PSPs whose capabilities say settle is not part of verify.

Off the hot path and batched: each pass claims due settle calls (rows of settle_calls, with their charges) with FOR
UPDATE SKIP LOCKED and a lease, as recovery does, settles them concurrently, and records every result in one
statement. The completing statement is what writes a charge's settle call, so only a charge with a receipt is ever
settled. A settle call is idempotent at the
PSP (settling a settled purchase answers approved), so a lease overrun costs a repeated call, never money.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gateway.charging import store
from gateway.charging.psp_pool import PspPool
from gateway.core.charge import Charge
from gateway.core.clock import Clock, system_clock
from gateway.core.psp import Outcome
from gateway.core.recovery_rules import backoff
from gateway.platform import metrics

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


class SettlementWorker:
    def __init__(
        self,
        pool,
        psps: PspPool,
        *,
        batch: int = 100,
        concurrency: int = 20,
        clock: Clock = system_clock,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.psps = psps
        self.batch = batch
        self._limit = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Claims the settle calls due now and makes them; returns how many it claimed."""
        now = self.clock()
        due = await store.claim_due_settlements(self.pool, now, now + LEASE, self.batch)
        if not due:
            return 0
        results = await asyncio.gather(*(self._settle(item.charge) for item in due))
        settled = [item.charge.id for item, note in zip(due, results, strict=True) if note is None]
        postponed = [
            (item.charge.id, self.clock() + backoff(item.attempts), note)
            for item, note in zip(due, results, strict=True)
            if note is not None
        ]
        for charge_id, _, note in postponed:
            log.warning("settle of charge %s not approved (%s); retrying later", charge_id, note)
        await store.record_settlements(self.pool, settled, self.clock(), postponed)
        return len(due)

    async def _settle(self, charge: Charge) -> str | None:
        """None when the PSP approved the settle call, else why not."""
        async with self._limit:
            with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation="settle").time():
                reply = await self.psps.adapter(charge.psp_id).settle(charge.txn_ref())
        if reply.outcome is Outcome.APPROVED:
            return None
        return f"settle: {reply.outcome} {reply.response_code or ''}".strip()
