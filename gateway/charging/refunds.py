"""Refunding a completed charge past its PSP's reversal window: the refund is stored before its instruction is
sent, the PSP's explicit answer finishes it (instructed, with a signed cancellation receipt; or failed), and an
unclear answer leaves it to the recovery worker, which sends the instruction again: the PSP answers the same refund
for the same purchase (gateway/charging/refund_recovery.py). The PSP's settlement file then takes the charge's
split rows back; its import marks the refund settled (gateway/reconciliation).

The request owns its refund until `next_recovery_at` (the recovery grace), like a void; every write is fenced by the
refund's claim epoch. The same Idempotency-Key always yields the same refund. The path it shares with a void is
gateway/charging/way_back.py; here is what is a refund's own: its rules, the instruction, the instructed refund.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from uuid_utils.compat import uuid7

from gateway.charging import refund_store, void_store
from gateway.charging.way_back import WayBackService
from gateway.core.charge import Charge
from gateway.core.psp import PspReply, TxnRef
from gateway.core.refunds import Refund, RefundStatus, assess_refund, refund_rows
from gateway.core.voids import VoidReason, window_closes_at
from gateway.platform import metrics
from psp_adapters.base import PspAdapter


class RefundService(WayBackService[Refund]):
    kind = "refund"
    returned_by = "refund"
    psp_operation = "refund"
    outcomes = metrics.REFUND_OUTCOMES
    store = refund_store.REFUNDS
    unanswered = RefundStatus.SENT
    refused = RefundStatus.FAILED

    async def _new(
        self, charge: Charge, now: datetime, *, reason: VoidReason, reason_text: str, requested_by: str
    ) -> Refund:
        await self._assess(charge, now)
        return Refund(
            id=uuid7(),
            charge_id=charge.id,
            office_id=charge.office_id,
            psp_id=charge.psp_id,
            terminal_id=charge.terminal_id,
            stan=charge.txn_ref().stan,  # a completed charge always has its STAN
            amount=charge.amount,
            rows=refund_rows(charge),
            reason=reason,
            reason_text=reason_text,
            requested_by=requested_by,
            created_at=now,
            next_recovery_at=now + self.recovery_grace,
        )

    async def _assess(self, charge: Charge, now: datetime) -> None:
        capabilities = self.state.registry.psps[charge.psp_id].capabilities
        assess_refund(
            charge,
            await void_store.VOIDS.of_charge(self.pool, charge.id),
            await self.store.of_charge(self.pool, charge.id),
            settled=await void_store.charge_settled(self.pool, charge.id),
            now=now,
            window_closes_at=window_closes_at(charge, capabilities.reversal_window),
            psp_timeout=timedelta(seconds=self.psps.timeout),
        )

    async def _insert(self, refund: Refund, charge: Charge, idempotency_key: str, request_hash: bytes) -> bool:
        try:
            return await refund_store.insert_refund(self.pool, refund, idempotency_key, request_hash)
        except refund_store.RefundExists:
            await self._assess(charge, refund.created_at)  # raises the error of whatever got there first
            raise AssertionError("refused as existing, yet the charge has no refund nor void") from None

    async def _ask_psp(self, adapter: PspAdapter, ref: TxnRef) -> PspReply:
        return await adapter.refund(ref)

    async def _accepted(self, refund: Refund, charge: Charge, reply: PspReply) -> Refund:
        """Issues the cancellation receipt of a refund the PSP accepted, unless someone else finished it."""
        assert reply.rrn, "an adapter approves a refund only with the refund's own RRN"
        now = self.clock()
        instructed = refund.moved_to(
            RefundStatus.INSTRUCTED, rrn=reply.rrn, response_code="00", instructed_at=now, next_recovery_at=None
        )
        return await self.finish(instructed, charge, now)
