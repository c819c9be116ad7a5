"""The charge path: rules, persistence before the PSP, purchase, verify, and completion with a signed receipt.

An unclear PSP outcome is never guessed: the charge stays pending and the recovery worker resolves it by inquiry
(see gateway/charging/recovery.py). The request owns its charge until `next_recovery_at` (the recovery grace); its
writes are fenced by the claim epoch, so once recovery has claimed the charge they no longer apply
(docs/money-safety.md). The same Idempotency-Key always yields the same answer: the charge in its current state, or
the same named error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import datetime, timedelta

from uuid_utils.compat import uuid7

from gateway.access.rate_counts import PendingCount
from gateway.charging import store
from gateway.charging.completion import ReceiptIssuer
from gateway.charging.group_commit import ChargeCompletions, ChargeInserts
from gateway.charging.psp_pool import PspPool
from gateway.charging.terminal_lock import LockAttempt, TerminalLocks, lock_token
from gateway.core.charge import FINAL, Charge, ExtraItem, Recipient, Status, status_for_decline
from gateway.core.charge_rules import ChargeIntent, ChargePlan, Refusal, assess_charge
from gateway.core.clock import Clock, system_clock
from gateway.core.errors import (
    IdempotencyKeyReused,
    IdentityMismatch,
    IdentityUnavailable,
    InvalidApiKey,
    ParameterInvalid,
    TerminalBusy,
    error_from_body,
)
from gateway.core.identity import IdentityCheck, IdentityPolicy, Verdict
from gateway.core.psp import Outcome, PspReply, PurchaseRequest
from gateway.core.recipients import RecipientKind
from gateway.core.registry import Service
from gateway.identity import IdentityInquiry, Subject
from gateway.platform import metrics
from gateway.registry.live import RuntimeState

# A request stores its charge right after taking the terminal; a holder whose charge is still unstored this long
# after it took the terminal never will be.
UNSTORED_HOLDER_GRACE_S = 10.0


def uuid7_time(charge_id: uuid.UUID) -> float | None:
    """When a UUIDv7 was made (Unix seconds, from its leading 48-bit millisecond timestamp)."""
    return (charge_id.int >> 80) / 1000 if charge_id.version == 7 else None


class ChargeService:
    def __init__(
        self,
        pool,
        state: RuntimeState,
        psps: PspPool,
        issuer: ReceiptIssuer,
        terminal_locks: TerminalLocks,
        identity: IdentityInquiry,
        *,
        completion_pool,
        recovery_grace: timedelta,
        replay_wait: float = 30.0,
        clock: Clock = system_clock,
    ) -> None:
        self.pool = pool
        self.inserts = ChargeInserts(pool)
        self.completions = ChargeCompletions(completion_pool)
        self.state = state
        self.psps = psps
        self.issuer = issuer
        self.terminal_locks = terminal_locks
        self.identity = identity
        self.recovery_grace = recovery_grace
        self.replay_wait = replay_wait
        self.clock = clock

    async def create(
        self,
        idempotency_key: str,
        intent: ChargeIntent,
        request_hash: bytes,
        caller_terminal_id: str,
        *,
        key_id: str | None = None,
        rate: PendingCount | None = None,
    ) -> Charge:
        """The charge in the state the PSP's answer left it; raises the named error of a broken rule (each broken
        rule recorded for the regulator). `key_id` names the caller's API key, whose row may have come from memory
        (gateway/web/auth.py): the charge path refuses it, changing nothing, once it is revoked. `rate` is the
        request's rate-limit count, spent before anything is written or asked (with the terminal, in the same
        round trip, on the common path)."""
        try:
            return await self._create(idempotency_key, intent, request_hash, caller_terminal_id, key_id, rate)
        except store.KeyRevoked:
            raise InvalidApiKey() from None

    async def _create(
        self,
        idempotency_key: str,
        intent: ChargeIntent,
        request_hash: bytes,
        caller_terminal_id: str,
        key_id: str | None,
        rate: PendingCount | None,
    ) -> Charge:
        now = self.clock()
        registry = self.state.registry
        office_id = registry.terminals[caller_terminal_id].office_id
        decision = assess_charge(intent, caller_terminal_id, registry, self.state.tariffs, now)
        if isinstance(decision, Refusal):
            await _spend(rate)
            await self._ensure_key_active(key_id)
            return await self._refuse(
                decision, intent, caller_terminal_id, office_id, idempotency_key, request_hash, now
            )
        if decision.service.identity is not IdentityPolicy.OFF:
            await _spend(rate)
            await self._ensure_key_active(key_id)  # an inquiry is asked of the civil registry only for a live key
        identity = await self._inquire(decision.service, intent, office_id)
        if identity is not None and identity.refuses:
            refusal = Refusal(_identity_error(identity))
            return await self._refuse(
                refusal, intent, caller_terminal_id, office_id, idempotency_key, request_hash, now
            )
        charge = self._new_charge(decision, intent, now, identity)
        lock = await self._take_terminal(office_id, intent.terminal_id, lock_token(charge.id, idempotency_key), rate)
        if not lock.taken:
            await self._ensure_key_active(key_id)
            if await store.find_idempotency_key(self.pool, office_id, idempotency_key):
                return await self.replay(office_id, idempotency_key, request_hash)
            raise TerminalBusy(
                param="terminal_id", details={"charge_id": str(lock.charge_id) if lock.charge_id else None}
            )
        outcome: Charge | None = None
        stored = False
        try:
            inserted = await self.inserts.insert(store.ChargeInsert(charge, idempotency_key, request_hash, key_id))
            if inserted is None:
                return await self.replay(office_id, idempotency_key, request_hash)
            stored = True
            self.issuer.note_head(office_id, inserted.chain_head)
            outcome = await self._drive(dataclasses.replace(charge, stan=inserted.stan))
            return outcome
        finally:
            if not stored or (outcome is not None and outcome.status in FINAL):
                self.terminal_locks.release(office_id, intent.terminal_id, lock.token)
            else:
                # The PSP may still hold the purchase: no second card until recovery makes the charge final.
                await self.terminal_locks.hold_pending(office_id, intent.terminal_id, lock.token)

    async def _ensure_key_active(self, key_id: str | None) -> None:
        """The revocation check of the charge path's rarer turns (the common one makes it in its insert)."""
        if await store.key_revoked(self.pool, key_id):
            raise store.KeyRevoked()

    async def _take_terminal(
        self, office_id: str, terminal_id: str, token: str, rate: PendingCount | None
    ) -> LockAttempt:
        """The terminal for this request, unless another charge is actually on it (or the request is over its
        rate limit: 429, the terminal untaken)."""
        lock = await self.terminal_locks.acquire(office_id, terminal_id, token, rate)
        idempotency_key = LockAttempt(True, token).holder
        if not lock.taken and lock.holder == idempotency_key:
            # Our own first attempt holds the terminal and may not have stored its key yet. Once it has, this is a
            # replay; if it let the terminal go without storing it, this request takes the terminal in its place.
            await self._await_key(office_id, terminal_id, idempotency_key)
            lock = await self.terminal_locks.acquire(office_id, terminal_id, token)
        if not lock.taken and lock.holder != idempotency_key and await self._stale(lock):
            lock = await self.terminal_locks.take_over(office_id, terminal_id, lock, token)
        return lock

    async def _stale(self, lock: LockAttempt) -> bool:
        """Whether the holder has no charge in flight: its charge is final, or was never stored although its
        request has long had the time to store it (it failed, or its gateway died, before the insert)."""
        if lock.charge_id is None:
            return False
        status = await store.charge_status(self.pool, lock.charge_id)
        if status is None:
            taken_at = uuid7_time(lock.charge_id)
            return taken_at is not None and time.time() - taken_at > UNSTORED_HOLDER_GRACE_S
        return Status(status) in FINAL

    async def release_if_final(self, charge_id: uuid.UUID) -> None:
        """Frees the terminal a charge held once the charge is final (called by recovery after it resolves one)."""
        charge = await store.get_charge(self.pool, charge_id)
        if charge is not None and charge.status in FINAL:
            await self.terminal_locks.release_charge(charge.office_id, charge.terminal_id, charge_id)

    async def _await_key(self, office_id: str, terminal_id: str, idempotency_key: str) -> None:
        """Until the first attempt has stored its key, or has let the terminal go without storing it."""
        deadline = asyncio.get_running_loop().time() + self.replay_wait
        delay = 0.005
        while (
            not await store.find_idempotency_key(self.pool, office_id, idempotency_key)
            and asyncio.get_running_loop().time() < deadline
            and await self.terminal_locks.holder(office_id, terminal_id) == idempotency_key
        ):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _inquire(self, service: Service, intent: ChargeIntent, office_id: str) -> IdentityCheck | None:
        """The identity inquiry the service's policy asks for, before the card is pushed; None when it asks none."""
        if service.identity is IdentityPolicy.OFF:
            return None
        if intent.recipient_id.kind is RecipientKind.INDIVIDUAL and intent.recipient_birth_date is None:
            raise ParameterInvalid(
                f"recipient.birth_date: service {service.code} looks the recipient up in the civil registry, "
                "which needs the birth date",
                param="recipient.birth_date",
            )
        subject = Subject(
            intent.recipient_name, intent.recipient_id, intent.recipient_mobile, intent.recipient_birth_date
        )
        with metrics.IDENTITY_LATENCY.time():
            return await self.identity.check(service.identity, subject, office_id)

    def _new_charge(
        self, plan: ChargePlan, intent: ChargeIntent, now: datetime, identity: IdentityCheck | None
    ) -> Charge:
        return Charge(
            id=uuid7(),
            office_id=plan.office.id,
            terminal_id=plan.terminal.terminal_id,
            merchant_id=plan.terminal.merchant_id,
            psp_id=plan.psp.id,
            operator_id=plan.operator.id,
            service_code=plan.service.code,
            quantity=intent.quantity,
            extras=tuple(ExtraItem(code, quantity) for code, quantity in intent.extras),
            recipient=Recipient(
                intent.recipient_name, intent.recipient_id.identifier, intent.recipient_mobile, intent.recipient_id.kind
            ),
            amount=intent.amount,
            breakdown=plan.breakdown,
            tariff_reference=plan.tariff_reference,
            settlement_rows=plan.settlement_rows,
            verify_deadline=plan.verify_deadline,
            next_recovery_at=now + self.recovery_grace,
            created_at=now,
            identity=identity,
        )

    async def _refuse(
        self,
        refusal: Refusal,
        intent: ChargeIntent,
        terminal_id: str,
        office_id: str,
        idempotency_key: str,
        request_hash: bytes,
        now: datetime,
    ) -> Charge:
        records = [
            store.RefusalRecord(
                office_id=office_id,
                terminal_id=terminal_id,
                operator_id=intent.operator_id,
                service_code=intent.service_code,
                reason=broken.reason,
                requested=broken.requested,
                cap=broken.cap,
                excess=broken.excess,
                payment_method=intent.payment_method,
                recipient_kind=intent.recipient_id.kind,
                recipient_identifier=intent.recipient_id.identifier,
                tariff_reference=broken.tariff_reference,
                created_at=now,
                details=broken.error.details,
            )
            for broken in (refusal, *refusal.others)
        ]
        if not await store.record_refusals(self.pool, records, idempotency_key, request_hash, refusal.error.body()):
            return await self.replay(office_id, idempotency_key, request_hash)
        for broken in (refusal, *refusal.others):
            metrics.charge_outcome(f"refused_{broken.reason}").inc()
        raise refusal.error

    async def _drive(self, charge: Charge) -> Charge:
        assert charge.next_recovery_at is not None
        if self.clock() + timedelta(seconds=self.psps.timeout) >= charge.next_recovery_at:
            # Too late to push: recovery may already be asking the PSP about this charge, and a purchase that
            # reached the PSP after recovery heard "not found" would take money for an expired charge.
            return await self._moved(charge, Status.FAILED, note="not sent: the hot path ran out of its lease")
        assert charge.stan is not None
        request = PurchaseRequest(
            terminal_id=charge.terminal_id,
            merchant_id=charge.merchant_id,
            amount=charge.amount,
            stan=charge.stan,
            reference=str(charge.id),
            transmitted_at=charge.created_at,
            settlement_rows=charge.settlement_rows,
            print_lines=(charge.service_code, f"{charge.amount} IRR"),
        )
        with metrics.psp_latency(charge.psp_id, "purchase").time():
            reply = await self.psps.adapter(charge.psp_id).purchase(request)
        if reply.outcome is Outcome.DECLINED:
            return await self._moved(
                charge,
                status_for_decline(reply.response_code),
                rrn=reply.rrn,
                masked_pan=reply.masked_pan,
                decline_code=reply.response_code,
            )
        if reply.outcome is Outcome.UNKNOWN:
            return await self._moved(charge, Status.SENT, note=reply.detail, next_recovery_at=self.clock())
        charge = charge.moved_to(
            Status.AUTHORIZED, rrn=reply.rrn, auth_code=reply.auth_code, masked_pan=reply.masked_pan
        )
        return await self.verify_and_complete(charge, reply, retry_delay=timedelta(0))

    async def verify_and_complete(self, charge: Charge, purchase: PspReply, *, retry_delay: timedelta) -> Charge:
        """Verifies an approved purchase and completes the charge; an unclear answer leaves it pending for
        recovery after `retry_delay`."""
        adapter = self.psps.adapter(charge.psp_id)
        with metrics.psp_latency(charge.psp_id, "verify").time():
            verify = await adapter.verify(charge.txn_ref())
        if verify.outcome is Outcome.APPROVED:
            return await self.complete(charge, purchase)
        if verify.outcome is Outcome.DECLINED:
            # The PSP refuses to confirm an approval: undo it so the cardholder is not charged.
            with metrics.psp_latency(charge.psp_id, "reverse").time():
                reversal = await adapter.reverse(charge.txn_ref())
            if reversal.outcome is Outcome.APPROVED:
                return await self._moved(charge, Status.REVERSED, note=f"verify refused {verify.response_code}")
        return await self._moved(
            charge,
            Status.AUTHORIZED,
            note=verify.detail or f"verify {verify.outcome}",
            next_recovery_at=self.clock() + retry_delay,
        )

    async def complete(self, charge: Charge, reply: PspReply) -> Charge:
        """Issues the receipt of a charge the PSP holds verified, unless someone else finished it first."""
        now = self.clock()
        receipt = await self.issuer.complete(self.pool, self.completions, charge, reply, self.state.registry, now)
        if receipt is None:
            return await self.current(charge.id)
        metrics.charge_outcome(Status.COMPLETED.value).inc()
        return charge.moved_to(
            Status.COMPLETED,
            completed_at=now,
            rrn=reply.rrn,
            auth_code=reply.auth_code,
            masked_pan=reply.masked_pan,
            tracking_code=receipt["receipt"]["tracking_code"],
            receipt=receipt,
        )

    async def _moved(
        self,
        charge: Charge,
        status: Status,
        *,
        note: str | None = None,
        next_recovery_at: datetime | None = None,
        **psp_fields: str | None,
    ) -> Charge:
        """Records the new status with what the PSP just said (rrn, masked_pan, decline_code) and answers with it,
        or with the current state if the charge is no longer this caller's to change."""
        moved = charge.moved_to(status, **psp_fields)
        if not await store.save_move(self.pool, moved, at=self.clock(), note=note, next_recovery_at=next_recovery_at):
            return await self.current(charge.id)
        metrics.charge_outcome(moved.status.value).inc()
        return moved

    async def current(self, charge_id: uuid.UUID) -> Charge:
        charge = await store.get_charge(self.pool, charge_id)
        assert charge is not None, f"charge {charge_id} was stored before it was driven"
        return charge

    async def replay(self, office_id: str, idempotency_key: str, request_hash: bytes) -> Charge:
        """A repeated Idempotency-Key: the first answer, once the first request has one."""
        row = await store.find_idempotency_key(self.pool, office_id, idempotency_key)
        assert row is not None
        if row["request_hash"] != request_hash:
            raise IdempotencyKeyReused(param="Idempotency-Key")
        if row["response_body"] is not None:
            raise error_from_body(row["response_body"])
        deadline = asyncio.get_running_loop().time() + self.replay_wait
        delay = 0.05
        while True:
            charge = await self.current(row["charge_id"])
            if charge.status in FINAL or asyncio.get_running_loop().time() >= deadline:
                return charge
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def _spend(rate: PendingCount | None) -> None:
    if rate is not None:
        await rate.spend()


def _identity_error(identity: IdentityCheck) -> IdentityMismatch | IdentityUnavailable:
    """The refusal of a required inquiry, with its verdicts and track ids for the regulator (never a name)."""
    details = {"identity": identity.to_document()}
    if identity.verdict is Verdict.MISMATCHED:
        return IdentityMismatch(param="recipient", details=details)
    return IdentityUnavailable(param="recipient", details=details, retry_after=5)
