"""What voiding and refunding a completed charge share. Either is stored under its Idempotency-Key before the PSP
is asked, and sent while the request's lease (the recovery grace) lasts; the PSP's explicit answer finishes it
(accepted: a signed cancellation receipt, its SMS and Iran Poosheh rows, in one statement; refused: final), and an
unclear answer leaves it pending for the recovery worker. Every write is fenced by its claim epoch, and the same
Idempotency-Key always yields the same void or refund. What differs, the rules before it is stored, the PSP's call
and what the PSP's acceptance records, is in gateway/charging/voids.py and refunds.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Generic

from prometheus_client import Counter

from gateway.charging import store
from gateway.charging.completion import ChainedReceipt, ReceiptIssuer, recipient_messages
from gateway.charging.psp_pool import PspPool
from gateway.charging.way_back_store import CancellationReceipt, W, WayBackStore, original_receipt
from gateway.core.charge import Charge
from gateway.core.clock import Clock, system_clock
from gateway.core.errors import IdempotencyKeyReused, ResourceMissing
from gateway.core.psp import Outcome, PspReply, TxnRef
from gateway.core.voids import REASON_LABELS, VoidReason
from gateway.messaging.sms_text import render_cancellation
from gateway.platform import metrics
from gateway.registry.live import RuntimeState
from psp_adapters.base import PspAdapter
from receipts.cancellation import CancellationInput, issue_cancellation
from receipts.chain import IssuedReceipt


@dataclass(eq=False)
class WayBackService(ABC, Generic[W]):
    kind: ClassVar[str]  # "void" or "refund": names its idempotency key's column and keeps its messages' ids apart
    returned_by: ClassVar[str]  # "reversal" or "refund": as its cancellation receipt signs it and its PSP notes say it
    psp_operation: ClassVar[str]  # the PSP call, as its latency is labelled
    outcomes: ClassVar[Counter]  # its requests and moves, by status
    unanswered: ClassVar[StrEnum]  # sent without a usable answer: pending for recovery
    refused: ClassVar[StrEnum]  # the PSP's explicit refusal: final

    pool: Any
    state: RuntimeState
    psps: PspPool
    issuer: ReceiptIssuer
    _: KW_ONLY
    recovery_grace: timedelta
    verify_base_url: str
    replay_wait: float = 30.0
    clock: Clock = system_clock

    @property
    @abstractmethod
    def store(self) -> WayBackStore[W]:
        """Its statements."""

    @abstractmethod
    async def _new(
        self, charge: Charge, now: datetime, *, reason: VoidReason, reason_text: str, requested_by: str
    ) -> W:
        """The void or refund of `charge`, as stored before it is sent; raises the named error of one that must not
        be sent."""

    @abstractmethod
    async def _insert(self, way_back: W, charge: Charge, idempotency_key: str, request_hash: bytes) -> bool:
        """Stores it under its idempotency key: False if the key was already used; raises the named error of what
        another request stored for the charge first."""

    @abstractmethod
    async def _ask_psp(self, adapter: PspAdapter, ref: TxnRef) -> PspReply:
        """Sends the reversal or the refund instruction for the charge's purchase."""

    @abstractmethod
    async def _accepted(self, way_back: W, charge: Charge, reply: PspReply) -> W:
        """Records the PSP's acceptance (with `finish`) and answers with the final state."""

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
    ) -> W:
        """The void or refund in the state the PSP's answer left it; raises the named error of one that cannot be
        sent. `office_id`: the caller's office (a charge of another office is not found)."""
        charge = await store.get_charge(self.pool, charge_id)
        if charge is None or (office_id is not None and charge.office_id != office_id):
            raise ResourceMissing("No such charge.", param="charge_id")
        if await store.find_idempotency_key(self.pool, charge.office_id, idempotency_key):
            return await self.replay(charge.office_id, idempotency_key, request_hash)
        way_back = await self._new(
            charge, self.clock(), reason=reason, reason_text=reason_text, requested_by=requested_by
        )
        if not await self._insert(way_back, charge, idempotency_key, request_hash):
            return await self.replay(charge.office_id, idempotency_key, request_hash)
        self.outcomes.labels(outcome="requested").inc()
        return await self._drive(way_back, charge)

    async def _drive(self, way_back: W, charge: Charge) -> W:
        assert way_back.next_recovery_at is not None
        if self.clock() + timedelta(seconds=self.psps.timeout) >= way_back.next_recovery_at:
            # Too late to send within the lease: recovery may already be at it. It stays requested, due at once, and
            # recovery sends it.
            note = "not sent: the request ran out of its lease"
            return await self._moved(way_back, way_back.status, note=note, next_recovery_at=self.clock())
        return await self.send(way_back, charge, retry_delay=timedelta(0))

    async def send(self, way_back: W, charge: Charge, *, retry_delay: timedelta) -> W:
        """Sends the reversal or the refund instruction (idempotent at the PSP) and records its answer; an unclear
        one leaves it pending for recovery after `retry_delay`."""
        with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation=self.psp_operation).time():
            reply = await self._ask_psp(self.psps.adapter(charge.psp_id), charge.txn_ref())
        if reply.outcome is Outcome.APPROVED:
            return await self._accepted(way_back, charge, reply)
        if reply.outcome is Outcome.DECLINED:
            return await self.refuse(way_back, reply.response_code, f"{self.returned_by} refused {reply.response_code}")
        note = reply.detail or f"{self.returned_by} unanswered"
        return await self._moved(way_back, self.unanswered, note=note, next_recovery_at=self.clock() + retry_delay)

    async def refuse(self, way_back: W, response_code: str | None, note: str) -> W:
        """The PSP will not take the money back this way: final (a void's fee is then refunded instead)."""
        return await self._moved(way_back, self.refused, note=note, response_code=response_code)

    async def finish(self, finished: W, charge: Charge, at: datetime) -> W:
        """Issues the cancellation receipt of a void or refund the PSP accepted, `finished` being what the acceptance
        made of it at `at`, and stores both in one statement, unless someone else finished it first."""
        original = await original_receipt(self.pool, charge.office_id, charge.id, charge.completed_at)

        def sign(seq: int, prev_hash: str, tracking_code: str) -> IssuedReceipt:
            return issue_cancellation(
                CancellationInput(
                    original=original.signed,
                    original_hash=original.hash,
                    seq=seq,
                    tracking_code=tracking_code,
                    issued_at=at,
                    reason_code=finished.reason.value,
                    reason_label=REASON_LABELS[finished.reason],
                    reason_text=finished.reason_text,
                    prev_hash=prev_hash,
                    returned_by=self.returned_by,
                ),
                self.issuer.keyring,
            )

        async def write(chained: ChainedReceipt) -> bool:
            messages = self._messages(charge, original.signed["receipt"]["tracking_code"], chained.tracking_code)
            return await self.store.finish(self.pool, finished, CancellationReceipt(at, chained, messages))

        signed = await self.issuer.issue(self.pool, charge.office_id, sign, write)
        if signed is None:
            return await self.current(finished.id)
        self.outcomes.labels(outcome=finished.status.value).inc()
        return dataclasses.replace(finished, tracking_code=signed["receipt"]["tracking_code"])

    def _messages(self, charge: Charge, cancelled_tracking_code: str, tracking_code: str) -> list[dict]:
        text = render_cancellation(
            cancelled_tracking_code=cancelled_tracking_code,
            amount=charge.amount,
            tracking_code=tracking_code,
            verify_base_url=self.verify_base_url,
            by_refund=self.returned_by == "refund",
        )
        return recipient_messages(charge, self.state.registry, text, tracking_code, kind=f"{self.kind}-")

    async def _moved(
        self,
        way_back: W,
        status: Any,  # a status of W's own
        *,
        note: str,
        next_recovery_at: datetime | None = None,
        response_code: str | None = None,
    ) -> W:
        moved = way_back.moved_to(status, response_code=response_code or way_back.response_code)
        if not await self.store.save_move(
            self.pool, moved, at=self.clock(), note=note, next_recovery_at=next_recovery_at
        ):
            return await self.current(way_back.id)
        self.outcomes.labels(outcome=status.value).inc()
        return moved

    async def current(self, way_back_id: uuid.UUID) -> W:
        way_back = await self.store.get(self.pool, way_back_id)
        assert way_back is not None, f"{self.kind} {way_back_id} was stored before it was driven"
        return way_back

    async def replay(self, office_id: str, idempotency_key: str, request_hash: bytes) -> W:
        """A repeated Idempotency-Key: the first request's void or refund, once the PSP has answered it (waiting a
        bounded time)."""
        row = await store.find_idempotency_key(self.pool, office_id, idempotency_key)
        assert row is not None
        first = row[f"{self.kind}_id"]
        if row["request_hash"] != request_hash or first is None:
            raise IdempotencyKeyReused(param="Idempotency-Key")
        deadline = asyncio.get_running_loop().time() + self.replay_wait
        delay = 0.05
        while True:
            way_back = await self.current(first)
            if not way_back.pending or asyncio.get_running_loop().time() >= deadline:
                return way_back
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
