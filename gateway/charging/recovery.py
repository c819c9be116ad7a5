"""The recovery worker: drives every pending charge to a final state before its PSP's verify deadline.

Each pass claims due charges with FOR UPDATE SKIP LOCKED and a lease (next_recovery_at moved into the future), so
several workers in several processes never take the same charge at once; each claim also increments the charge's
claim epoch, and every write about it is fenced by the epoch its writer read. A worker or a hot path that overran
its lease therefore cannot finish a charge someone else now holds. For each charge: inquiry first, then the action
`recovery_rules.decide` picks; an unclear answer leaves it pending with backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta

from gateway.charging import store
from gateway.charging.psp_pool import PspPool
from gateway.charging.service import ChargeService
from gateway.core.charge import Charge, Status, status_for_decline
from gateway.core.clock import Clock, system_clock
from gateway.core.psp import Outcome, PspReply, TxnState
from gateway.core.recovery_rules import Action, backoff, decide
from gateway.platform import metrics

log = logging.getLogger(__name__)

# Longer than one resolution takes (inquiry, verify and reversal, each bounded by the PSP timeout) times the rounds
# a claimed batch needs (batch / concurrency); the claim epoch keeps an overrun harmless, only slower.
LEASE = timedelta(seconds=60)


class RecoveryWorker:
    def __init__(
        self,
        pool,
        psps: PspPool,
        charges: ChargeService,
        *,
        batch: int = 50,
        concurrency: int = 20,
        clock: Clock = system_clock,
    ):
        hot_path = timedelta(seconds=psps.purchase_timeout + psps.timeout)
        if charges.recovery_grace < hot_path:
            raise ValueError(
                f"the recovery grace ({charges.recovery_grace.total_seconds():g} s) must cover a "
                f"purchase and its verify ({hot_path.total_seconds():g} s)"
            )
        self.pool = pool
        self.psps = psps
        self.charges = charges
        self.batch = batch
        self.clock = clock
        self._limit = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Claims the charges due now and resolves them; returns how many it claimed."""
        now = self.clock()
        due = await store.claim_due_charges(self.pool, now, now + LEASE, self.batch)
        await asyncio.gather(*(self._guarded(charge) for charge in due))
        return len(due)

    async def _guarded(self, charge: Charge) -> None:
        async with self._limit:
            try:
                await self.resolve(charge)
            except Exception:
                log.exception("recovery of charge %s failed; it stays pending", charge.id)
                await self._postpone(charge, "recovery error")
                return
            try:
                await self.charges.release_if_final(charge.id)
            except Exception:
                # The terminal is not stuck: the next caller finds its holder final and takes it over.
                log.warning("could not free the terminal of charge %s", charge.id, exc_info=True)

    async def resolve(self, charge: Charge) -> None:
        adapter = self.psps.adapter(charge.psp_id)
        with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation="inquire").time():
            inquiry = await adapter.inquire(charge.txn_ref())
        state = inquiry.state or TxnState.UNKNOWN
        action = decide(state, self.clock(), charge.verify_deadline, charge.created_at + self.charges.recovery_grace)
        metrics.RECOVERY_ACTIONS.labels(action=action.value).inc()
        charge = dataclasses.replace(
            charge,
            rrn=inquiry.rrn or charge.rrn,
            auth_code=inquiry.auth_code or charge.auth_code,
            masked_pan=inquiry.masked_pan or charge.masked_pan,
        )
        approval = PspReply(
            outcome=Outcome.APPROVED,
            response_code=inquiry.response_code,
            rrn=charge.rrn,
            stan=charge.stan,
            auth_code=charge.auth_code,
            masked_pan=charge.masked_pan,
        )
        match action:
            case Action.VERIFY_AND_COMPLETE:
                await self.charges.verify_and_complete(charge, approval, retry_delay=backoff(charge.recovery_attempts))
            case Action.COMPLETE:
                await self.charges.complete(charge, approval)
            case Action.MARK_DECLINED:
                await self._mark(
                    charge, status_for_decline(inquiry.response_code), "inquiry: declined", inquiry.response_code
                )
            case Action.MARK_REVERSED:
                await self._mark(charge, Status.REVERSED, "inquiry: reversed")
            case Action.MARK_EXPIRED:
                await self._mark(charge, Status.EXPIRED, "inquiry: not found")
            case Action.REVERSE:
                await self._reverse(charge)
            case Action.RETRY_LATER:
                await self._postpone(charge, f"inquiry: {state}")

    async def _reverse(self, charge: Charge) -> None:
        with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation="reverse").time():
            reversal = await self.psps.adapter(charge.psp_id).reverse(charge.txn_ref())
        if reversal.outcome is Outcome.APPROVED:
            await self._mark(charge, Status.REVERSED, "reversed by recovery")
        else:
            # Refused or unanswered: the next inquiry tells what the PSP holds now.
            await self._postpone(charge, f"reversal: {reversal.outcome} {reversal.response_code or ''}".strip())

    async def _mark(self, charge: Charge, status: Status, note: str, decline_code: str | None = None) -> None:
        await store.save_move(self.pool, charge.moved_to(status, decline_code=decline_code), at=self.clock(), note=note)

    async def _postpone(self, charge: Charge, note: str) -> None:
        await store.postpone_recovery(
            self.pool,
            charge.id,
            epoch=charge.claim_epoch,
            next_at=self.clock() + backoff(charge.recovery_attempts),
            note=note,
        )
