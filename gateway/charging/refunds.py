"""Refunding a completed charge past its PSP's reversal window: the refund is stored before its instruction is
sent, the PSP's explicit answer finishes it (instructed, with a signed cancellation receipt; or failed), and an
unclear answer leaves it to the recovery worker, which sends the instruction again: the PSP answers the same refund
for the same purchase (gateway/charging/refund_recovery.py). The PSP's settlement file then takes the charge's
split rows back; its import marks the refund settled (gateway/reconciliation).

The request owns its refund until `next_recovery_at` (the recovery grace), like a void; every write is fenced by the
refund's claim epoch. The same Idempotency-Key always yields the same refund.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from uuid_utils.compat import uuid7

from gateway.charging import refund_store, store, void_store
from gateway.charging.completion import ReceiptIssuer, recipient_messages
from gateway.charging.psp_pool import PspPool
from gateway.core.charge import Charge
from gateway.core.clock import Clock, system_clock
from gateway.core.errors import IdempotencyKeyReused, ResourceMissing
from gateway.core.psp import Outcome
from gateway.core.refunds import Refund, RefundStatus, assess_refund, refund_rows
from gateway.core.voids import REASON_LABELS, VoidReason, window_closes_at
from gateway.messaging.sms_text import render_cancellation
from gateway.platform import metrics
from gateway.registry.live import RuntimeState
from receipts.cancellation import CancellationInput, issue_cancellation
from receipts.chain import IssuedReceipt


class RefundService:
    def __init__(
        self,
        pool,
        state: RuntimeState,
        psps: PspPool,
        issuer: ReceiptIssuer,
        *,
        recovery_grace: timedelta,
        verify_base_url: str,
        replay_wait: float = 30.0,
        clock: Clock = system_clock,
    ) -> None:
        self.pool = pool
        self.state = state
        self.psps = psps
        self.issuer = issuer
        self.recovery_grace = recovery_grace
        self.verify_base_url = verify_base_url
        self.replay_wait = replay_wait
        self.clock = clock

    async def request(
        self,
        charge_id: uuid.UUID,
        *,
        office_id: str | None,
        requested_by: str,
        reason: VoidReason,
        reason_text: str,
        idempotency_key: str,
        request_hash: bytes,
    ) -> Refund:
        """The refund in the state the PSP's answer left it; raises the named error of a refund that cannot be
        instructed. `office_id`: the caller's office (a charge of another office is not found)."""
        charge = await store.get_charge(self.pool, charge_id)
        if charge is None or (office_id is not None and charge.office_id != office_id):
            raise ResourceMissing("No such charge.", param="charge_id")
        if await store.find_idempotency_key(self.pool, charge.office_id, idempotency_key):
            return await self.replay(charge.office_id, idempotency_key, request_hash)
        now = self.clock()
        await self._assess(charge, now)
        refund = Refund(
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
        try:
            stored = await refund_store.insert_refund(self.pool, refund, idempotency_key, request_hash)
        except refund_store.RefundExists:
            await self._assess(charge, now)  # raises the error of whatever got there first
            raise AssertionError("refused as existing, yet the charge has no refund nor void") from None
        if not stored:
            return await self.replay(charge.office_id, idempotency_key, request_hash)
        metrics.REFUND_OUTCOMES.labels(outcome="requested").inc()
        return await self._drive(refund, charge)

    async def _assess(self, charge: Charge, now: datetime) -> None:
        capabilities = self.state.registry.psps[charge.psp_id].capabilities
        assess_refund(
            charge,
            await void_store.void_of_charge(self.pool, charge.id),
            await refund_store.refund_of_charge(self.pool, charge.id),
            settled=await void_store.charge_settled(self.pool, charge.id),
            now=now,
            window_closes_at=window_closes_at(charge, capabilities.reversal_window),
            psp_timeout=timedelta(seconds=self.psps.timeout),
        )

    async def _drive(self, refund: Refund, charge: Charge) -> Refund:
        assert refund.next_recovery_at is not None
        if self.clock() + timedelta(seconds=self.psps.timeout) >= refund.next_recovery_at:
            note = "not sent: the request ran out of its lease"
            return await self._moved(refund, RefundStatus.REQUESTED, note=note, next_recovery_at=self.clock())
        return await self.instruct(refund, charge, retry_delay=timedelta(0))

    async def instruct(self, refund: Refund, charge: Charge, *, retry_delay: timedelta) -> Refund:
        """Sends the refund instruction (idempotent at the PSP) and records its answer; an unclear one leaves the
        refund pending for recovery after `retry_delay`."""
        with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation="refund").time():
            reply = await self.psps.adapter(charge.psp_id).refund(charge.txn_ref())
        if reply.outcome is Outcome.APPROVED:
            assert reply.rrn, "an adapter approves a refund only with the refund's own RRN"
            return await self._instructed(refund, charge, reply.rrn)
        if reply.outcome is Outcome.DECLINED:
            note = f"refund refused {reply.response_code}"
            return await self._moved(refund, RefundStatus.FAILED, note=note, response_code=reply.response_code)
        note = reply.detail or "refund unanswered"
        return await self._moved(refund, RefundStatus.SENT, note=note, next_recovery_at=self.clock() + retry_delay)

    async def _instructed(self, refund: Refund, charge: Charge, rrn: str) -> Refund:
        """Issues the cancellation receipt of a refund the PSP accepted, unless someone else finished it."""
        now = self.clock()
        original = await void_store.original_receipt(self.pool, charge.office_id, charge.id, charge.completed_at)

        def sign(seq: int, prev_hash: str, tracking_code: str) -> IssuedReceipt:
            return issue_cancellation(
                CancellationInput(
                    original=original.signed,
                    original_hash=original.hash,
                    seq=seq,
                    tracking_code=tracking_code,
                    issued_at=now,
                    reason_code=refund.reason.value,
                    reason_label=REASON_LABELS[refund.reason],
                    reason_text=refund.reason_text,
                    prev_hash=prev_hash,
                    returned_by="refund",
                ),
                self.issuer.keyring,
            )

        async def write(seq: int, prev_hash: str, tracking_code: str, issued: IssuedReceipt) -> bool:
            return await refund_store.instruct_refund(
                self.pool,
                refund_store.RefundInstructed(
                    refund_id=refund.id,
                    rrn=rrn,
                    instructed_at=now,
                    tracking_code=tracking_code,
                    seq=seq,
                    receipt_hash=issued.hash,
                    prev_hash=prev_hash,
                    key_id=issued.signed["receipt"]["key_id"],
                    signed_receipt=issued.signed,
                    messages=self._messages(charge, original.signed["receipt"]["tracking_code"], tracking_code),
                    epoch=refund.claim_epoch,
                ),
            )

        signed = await self.issuer.issue(self.pool, charge.office_id, sign, write)
        if signed is None:
            return await self.current(refund.id)
        metrics.REFUND_OUTCOMES.labels(outcome=RefundStatus.INSTRUCTED.value).inc()
        return refund.moved_to(
            RefundStatus.INSTRUCTED,
            rrn=rrn,
            response_code="00",
            tracking_code=signed["receipt"]["tracking_code"],
            instructed_at=now,
            next_recovery_at=None,
        )

    def _messages(self, charge: Charge, cancelled_tracking_code: str, tracking_code: str) -> list[dict]:
        text = render_cancellation(
            cancelled_tracking_code=cancelled_tracking_code,
            amount=charge.amount,
            tracking_code=tracking_code,
            verify_base_url=self.verify_base_url,
            by_refund=True,
        )
        return recipient_messages(charge, self.state.registry, text, tracking_code, kind="refund-")

    async def _moved(
        self,
        refund: Refund,
        status: RefundStatus,
        *,
        note: str,
        next_recovery_at: datetime | None = None,
        response_code: str | None = None,
    ) -> Refund:
        moved = refund.moved_to(status, response_code=response_code or refund.response_code)
        if not await refund_store.save_refund_move(
            self.pool, moved, at=self.clock(), note=note, next_recovery_at=next_recovery_at
        ):
            return await self.current(refund.id)
        metrics.REFUND_OUTCOMES.labels(outcome=status.value).inc()
        return moved

    async def current(self, refund_id: uuid.UUID) -> Refund:
        refund = await refund_store.get_refund(self.pool, refund_id)
        assert refund is not None, f"refund {refund_id} was stored before it was driven"
        return refund

    async def replay(self, office_id: str, idempotency_key: str, request_hash: bytes) -> Refund:
        """A repeated Idempotency-Key: the first request's refund, once the PSP has answered it (waiting a bounded
        time)."""
        row = await store.find_idempotency_key(self.pool, office_id, idempotency_key)
        assert row is not None
        if row["request_hash"] != request_hash or row["refund_id"] is None:
            raise IdempotencyKeyReused(param="Idempotency-Key")
        deadline = asyncio.get_running_loop().time() + self.replay_wait
        delay = 0.05
        while True:
            refund = await self.current(row["refund_id"])
            if not refund.pending or asyncio.get_running_loop().time() >= deadline:
                return refund
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
