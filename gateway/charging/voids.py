"""Voiding a completed charge: the void is stored before the reversal is sent, the PSP's explicit answer finishes
it (reversed, with a signed cancellation receipt; or refused, when the fee must be refunded instead), and an
unclear answer leaves it to the recovery worker, which asks the PSP what it holds (gateway/charging/void_recovery.py).

The request owns its void until `next_recovery_at` (the recovery grace), like the charge path; every write is
fenced by the void's claim epoch. The same Idempotency-Key always yields the same void. The path it shares with a
refund is gateway/charging/way_back.py; here is what is a void's own: its rules, the reversal, the reversed void.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from uuid_utils.compat import uuid7

from gateway.charging import void_store
from gateway.charging.way_back import WayBackService
from gateway.core.charge import Charge
from gateway.core.errors import ChargeAlreadyVoided
from gateway.core.psp import PspReply, TxnRef
from gateway.core.voids import Void, VoidReason, VoidStatus, assess_void, window_closes_at
from gateway.platform import metrics
from psp_adapters.base import PspAdapter


class VoidService(WayBackService[Void]):
    kind = "void"
    returned_by = "reversal"
    psp_operation = "reverse"
    outcomes = metrics.VOID_OUTCOMES
    store = void_store.VOIDS
    unanswered = VoidStatus.SENT
    refused = VoidStatus.REFUSED

    async def _new(
        self, charge: Charge, now: datetime, *, reason: VoidReason, reason_text: str, requested_by: str
    ) -> Void:
        closes_at = window_closes_at(charge, self.state.registry.psps[charge.psp_id].capabilities.reversal_window)
        assess_void(
            charge,
            await self.store.of_charge(self.pool, charge.id),
            settled=await void_store.charge_settled(self.pool, charge.id),
            now=now,
            closes_at=closes_at,
            psp_timeout=timedelta(seconds=self.psps.timeout),
        )
        return Void(
            id=uuid7(),
            charge_id=charge.id,
            office_id=charge.office_id,
            psp_id=charge.psp_id,
            amount=charge.amount,
            reason=reason,
            reason_text=reason_text,
            requested_by=requested_by,
            window_closes_at=closes_at,
            created_at=now,
            next_recovery_at=now + self.recovery_grace,
        )

    async def _insert(self, void: Void, charge: Charge, idempotency_key: str, request_hash: bytes) -> bool:
        try:
            return await void_store.insert_void(self.pool, void, idempotency_key, request_hash)
        except void_store.VoidExists:
            existing = await self.store.of_charge(self.pool, charge.id)
            assert existing is not None
            raise ChargeAlreadyVoided(details={"void_id": str(existing.id), "status": existing.status.value}) from None

    async def _ask_psp(self, adapter: PspAdapter, ref: TxnRef) -> PspReply:
        return await adapter.reverse(ref)

    async def _accepted(self, void: Void, charge: Charge, reply: PspReply) -> Void:
        return await self.complete(void, charge)

    async def complete(self, void: Void, charge: Charge) -> Void:
        """Issues the cancellation receipt of a void the PSP holds reversed, unless someone else finished it."""
        now = self.clock()
        return await self.finish(void.moved_to(VoidStatus.REVERSED, finalized_at=now), charge, now)
