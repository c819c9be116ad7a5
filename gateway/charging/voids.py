"""Voiding a completed charge: the void is stored before the reversal is sent, the PSP's explicit answer finishes
it (reversed, with a signed cancellation receipt; or refused, when the fee must be refunded instead), and an
unclear answer leaves it to the recovery worker, which asks the PSP what it holds (gateway/charging/void_recovery.py).

The request owns its void until `next_recovery_at` (the recovery grace), like the charge path; every write is
fenced by the void's claim epoch. The same Idempotency-Key always yields the same void.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from uuid_utils.compat import uuid7

from gateway.charging import store, void_store
from gateway.charging.completion import ReceiptIssuer, recipient_messages
from gateway.charging.psp_pool import PspPool
from gateway.core.charge import Charge
from gateway.core.clock import Clock, system_clock
from gateway.core.errors import ChargeAlreadyVoided, IdempotencyKeyReused, ResourceMissing
from gateway.core.psp import Outcome
from gateway.core.voids import REASON_LABELS, Void, VoidReason, VoidStatus, assess_void, window_closes_at
from gateway.messaging.sms_text import render_cancellation
from gateway.platform import metrics
from gateway.registry.live import RuntimeState
from receipts.cancellation import CancellationInput, issue_cancellation
from receipts.chain import IssuedReceipt


class VoidService:
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
    ) -> Void:
        """The void in the state the PSP's answer left it; raises the named error of a void that cannot be sent.
        `office_id`: the caller's office (a charge of another office is not found)."""
        charge = await store.get_charge(self.pool, charge_id)
        if charge is None or (office_id is not None and charge.office_id != office_id):
            raise ResourceMissing("No such charge.", param="charge_id")
        if await store.find_idempotency_key(self.pool, charge.office_id, idempotency_key):
            return await self.replay(charge.office_id, idempotency_key, request_hash)
        now = self.clock()
        capabilities = self.state.registry.psps[charge.psp_id].capabilities
        closes_at = window_closes_at(charge, capabilities.reversal_window)
        assess_void(
            charge,
            await void_store.void_of_charge(self.pool, charge.id),
            settled=await void_store.charge_settled(self.pool, charge.id),
            now=now,
            closes_at=closes_at,
            psp_timeout=timedelta(seconds=self.psps.timeout),
        )
        void = Void(
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
        try:
            stored = await void_store.insert_void(self.pool, void, idempotency_key, request_hash)
        except void_store.VoidExists:
            existing = await void_store.void_of_charge(self.pool, charge.id)
            assert existing is not None
            raise ChargeAlreadyVoided(details={"void_id": str(existing.id), "status": existing.status.value}) from None
        if not stored:
            return await self.replay(charge.office_id, idempotency_key, request_hash)
        metrics.VOID_OUTCOMES.labels(outcome="requested").inc()
        return await self._drive(void, charge)

    async def _drive(self, void: Void, charge: Charge) -> Void:
        assert void.next_recovery_at is not None
        if self.clock() + timedelta(seconds=self.psps.timeout) >= void.next_recovery_at:
            # Too late to send within the lease: recovery may already be asking. It sends the reversal itself
            # once the PSP says it still holds the money.
            note = "not sent: the request ran out of its lease"
            return await self._moved(void, VoidStatus.REQUESTED, note=note, next_recovery_at=self.clock())
        return await self.reverse(void, charge, retry_delay=timedelta(0))

    async def reverse(self, void: Void, charge: Charge, *, retry_delay: timedelta) -> Void:
        """Sends the reversal (idempotent at the PSP) and records its answer; an unclear one leaves the void
        pending for recovery after `retry_delay`."""
        with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation="reverse").time():
            reply = await self.psps.adapter(charge.psp_id).reverse(charge.txn_ref())
        if reply.outcome is Outcome.APPROVED:
            return await self.complete(void, charge)
        if reply.outcome is Outcome.DECLINED:
            return await self.refuse(void, reply.response_code, f"reversal refused {reply.response_code}")
        note = reply.detail or "reversal unanswered"
        return await self._moved(void, VoidStatus.SENT, note=note, next_recovery_at=self.clock() + retry_delay)

    async def refuse(self, void: Void, response_code: str | None, note: str) -> Void:
        """The PSP keeps the money (its window closed, or it settled): the fee is refunded through settlement."""
        return await self._moved(void, VoidStatus.REFUSED, note=note, response_code=response_code)

    async def complete(self, void: Void, charge: Charge) -> Void:
        """Issues the cancellation receipt of a void the PSP holds reversed, unless someone else finished it."""
        now = self.clock()
        original = await void_store.original_receipt(self.pool, charge.office_id, charge.id, charge.completed_at)
        reason_label = REASON_LABELS[void.reason]

        def sign(seq: int, prev_hash: str, tracking_code: str) -> IssuedReceipt:
            return issue_cancellation(
                CancellationInput(
                    original=original.signed,
                    original_hash=original.hash,
                    seq=seq,
                    tracking_code=tracking_code,
                    issued_at=now,
                    reason_code=void.reason.value,
                    reason_label=reason_label,
                    reason_text=void.reason_text,
                    prev_hash=prev_hash,
                ),
                self.issuer.keyring,
            )

        async def write(seq: int, prev_hash: str, tracking_code: str, issued: IssuedReceipt) -> bool:
            return await void_store.complete_void(
                self.pool,
                void_store.VoidCompletion(
                    void_id=void.id,
                    reversed_at=now,
                    tracking_code=tracking_code,
                    seq=seq,
                    receipt_hash=issued.hash,
                    prev_hash=prev_hash,
                    key_id=issued.signed["receipt"]["key_id"],
                    signed_receipt=issued.signed,
                    messages=self._messages(charge, original.signed["receipt"]["tracking_code"], tracking_code),
                    epoch=void.claim_epoch,
                ),
            )

        signed = await self.issuer.issue(self.pool, charge.office_id, sign, write)
        if signed is None:
            return await self.current(void.id)
        metrics.VOID_OUTCOMES.labels(outcome=VoidStatus.REVERSED.value).inc()
        return void.moved_to(VoidStatus.REVERSED, tracking_code=signed["receipt"]["tracking_code"], finalized_at=now)

    def _messages(self, charge: Charge, cancelled_tracking_code: str, tracking_code: str) -> list[dict]:
        text = render_cancellation(
            cancelled_tracking_code=cancelled_tracking_code,
            amount=charge.amount,
            tracking_code=tracking_code,
            verify_base_url=self.verify_base_url,
        )
        return recipient_messages(charge, self.state.registry, text, tracking_code, kind="void-")

    async def _moved(
        self,
        void: Void,
        status: VoidStatus,
        *,
        note: str,
        next_recovery_at: datetime | None = None,
        response_code: str | None = None,
    ) -> Void:
        moved = void.moved_to(status, response_code=response_code or void.response_code)
        if not await void_store.save_void_move(
            self.pool, moved, at=self.clock(), note=note, next_recovery_at=next_recovery_at
        ):
            return await self.current(void.id)
        metrics.VOID_OUTCOMES.labels(outcome=status.value).inc()
        return moved

    async def current(self, void_id: uuid.UUID) -> Void:
        void = await void_store.get_void(self.pool, void_id)
        assert void is not None, f"void {void_id} was stored before it was driven"
        return void

    async def replay(self, office_id: str, idempotency_key: str, request_hash: bytes) -> Void:
        """A repeated Idempotency-Key: the first request's void, once it is final (waiting a bounded time)."""
        row = await store.find_idempotency_key(self.pool, office_id, idempotency_key)
        assert row is not None
        if row["request_hash"] != request_hash or row["void_id"] is None:
            raise IdempotencyKeyReused(param="Idempotency-Key")
        deadline = asyncio.get_running_loop().time() + self.replay_wait
        delay = 0.05
        while True:
            void = await self.current(row["void_id"])
            if not void.pending or asyncio.get_running_loop().time() >= deadline:
                return void
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
