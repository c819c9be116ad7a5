"""The recovery worker: drives every pending charge to a final state before its PSP's verify deadline.

Each worker claims due charges with FOR UPDATE SKIP LOCKED and a lease (next_recovery_at moved into the future),
so several workers in several processes never act on the same charge at once.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from gateway import metrics
from gateway.charging import txn_ref
from gateway.domain.charge_states import Status, status_for_decline
from gateway.domain.recovery_rules import Action, backoff, decide
from gateway.storage import charges_store as store
from psp_adapters.base import Outcome, PspReply

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RecoveryWorker:
    def __init__(self, pool, state, psps, charges, *, interval: float, batch: int = 50, concurrency: int = 20):
        self.pool = pool
        self.state = state
        self.psps = psps
        self.charges = charges
        self.interval = interval
        self.batch = batch
        self._limit = asyncio.Semaphore(concurrency)

    async def run(self) -> None:
        while True:
            try:
                while await self.run_once() == self.batch:
                    pass
            except Exception:
                log.exception("recovery pass failed; retrying")
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        now = _now()
        due = await store.claim_due_charges(self.pool, now, now + LEASE, self.batch)
        await asyncio.gather(*(self._guarded(dict(row)) for row in due))
        return len(due)

    async def _guarded(self, charge: dict) -> None:
        async with self._limit:
            try:
                await self.resolve(charge)
            except Exception:
                log.exception("recovery of charge %s failed; it stays pending", charge["id"])
                await store.postpone_recovery(self.pool, charge["id"], _now() + backoff(charge["recovery_attempts"]),
                                              "recovery error")

    async def resolve(self, charge: dict) -> None:
        adapter = self.psps.adapter(charge["psp_id"])
        inquiry = await adapter.inquire(txn_ref(charge))
        action = decide(inquiry.state, _now(), charge["verify_deadline"])
        metrics.RECOVERY_ACTIONS.labels(action=action.value).inc()
        merged = PspReply(outcome=Outcome.APPROVED, response_code=inquiry.response_code,
                          rrn=inquiry.rrn or charge["rrn"], stan=charge["stan"],
                          auth_code=inquiry.auth_code or charge["auth_code"],
                          masked_pan=inquiry.masked_pan or charge["masked_pan"])
        charge = {**charge, "rrn": merged.rrn, "auth_code": merged.auth_code, "masked_pan": merged.masked_pan}
        if action is Action.VERIFY_AND_COMPLETE:
            await self.charges.verify_and_complete(charge, merged)
        elif action is Action.COMPLETE:
            await self.charges.issuer.complete(self.pool, charge, merged, self.state.registry, _now())
        elif action is Action.MARK_DECLINED:
            await store.move_charge(self.pool, charge["id"], status_for_decline(inquiry.response_code),
                                    decline_code=inquiry.response_code, note="inquiry: declined", at=_now())
        elif action is Action.MARK_REVERSED:
            await store.move_charge(self.pool, charge["id"], Status.REVERSED, note="inquiry: reversed", at=_now())
        elif action is Action.MARK_EXPIRED:
            await store.move_charge(self.pool, charge["id"], Status.EXPIRED, note="inquiry: not found", at=_now())
        elif action is Action.REVERSE:
            await self._reverse(adapter, charge)
        else:
            await store.postpone_recovery(self.pool, charge["id"], _now() + backoff(charge["recovery_attempts"]),
                                          f"inquiry: {inquiry.state}")

    async def _reverse(self, adapter, charge: dict) -> None:
        reversal = await adapter.reverse(txn_ref(charge))
        if reversal.outcome is Outcome.APPROVED:
            await store.move_charge(self.pool, charge["id"], Status.REVERSED, note="reversed by recovery", at=_now())
        else:
            await store.postpone_recovery(self.pool, charge["id"], _now() + backoff(charge["recovery_attempts"]),
                                          f"reversal: {reversal.outcome} {reversal.response_code or ''}".strip())
