"""The settlement worker: the separate settle call, for PSPs whose capabilities say settle is not part of verify.

Off the hot path and batched: each pass claims due completed charges with FOR UPDATE SKIP LOCKED and a lease, as
recovery does, settles them concurrently, and records every result in one statement. The completing statement is
what schedules a charge here, so only a charge with a receipt is ever settled. A settle call is idempotent at the
PSP (settling a settled purchase answers approved), so a lease overrun costs a repeated call, never money.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from gateway import metrics
from gateway.charging import txn_ref
from gateway.domain.recovery_rules import backoff
from gateway.passes import repeat_passes
from gateway.storage import charges_store as store
from psp_adapters.base import Outcome

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SettlementWorker:
    def __init__(self, pool, psps, *, interval: float, batch: int = 100, concurrency: int = 20) -> None:
        self.pool = pool
        self.psps = psps
        self.interval = interval
        self.batch = batch
        self._limit = asyncio.Semaphore(concurrency)

    async def run(self) -> None:
        await repeat_passes(self.run_once, batch=self.batch, interval=self.interval, what="settlement", log=log)

    async def run_once(self) -> int:
        """Claims the settle calls due now and makes them; returns how many it claimed."""
        now = _now()
        due = await store.claim_due_settlements(self.pool, now, now + LEASE, self.batch)
        if not due:
            return 0
        results = await asyncio.gather(*(self._settle(row) for row in due))
        settled = [row["id"] for row, note in zip(due, results) if note is None]
        postponed = [(row["id"], _now() + backoff(row["settle_attempts"]), note)
                     for row, note in zip(due, results) if note is not None]
        for charge_id, _, note in postponed:
            log.warning("settle of charge %s not approved (%s); retrying later", charge_id, note)
        await store.record_settlements(self.pool, settled, _now(), postponed)
        return len(due)

    async def _settle(self, charge) -> str | None:
        """None when the PSP approved the settle call, else why not."""
        async with self._limit:
            with metrics.PSP_LATENCY.labels(psp=charge["psp_id"], operation="settle").time():
                reply = await self.psps.adapter(charge["psp_id"]).settle(txn_ref(charge))
        if reply.outcome is Outcome.APPROVED:
            return None
        return f"settle: {reply.outcome} {reply.response_code or ''}".strip()
