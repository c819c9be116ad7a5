"""The charge path: rules, persistence before the PSP, purchase, verify, and completion with a signed receipt.

An unclear PSP outcome is never guessed: the charge stays pending and the recovery worker resolves it by inquiry
(see gateway/recovery.py). The request owns its charge until `next_recovery_at` (the recovery grace); its writes are
fenced by the claim epoch, so once recovery has claimed the charge they no longer apply (docs/money-safety.md).
The same Idempotency-Key always yields the same answer.
"""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from uuid_utils.compat import uuid7

from gateway import metrics
from gateway.api_keys import Principal
from gateway.charge_view import charge_answer
from gateway.domain.charge_rules import ChargeIntent, ChargePlan, Refusal, assess_charge
from gateway.domain.charge_states import FINAL, Status, status_for_decline
from gateway.http.errors import ApiError
from gateway.psp_pool import PspPool
from gateway.receipt_issuer import ReceiptIssuer
from gateway.runtime_state import RuntimeState
from gateway.storage import charges_store as store
from gateway.terminal_lock import TerminalLocks
from psp_adapters.base import Outcome, PurchaseRequest, PspReply, TxnRef


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def txn_ref(charge) -> TxnRef:
    return TxnRef(terminal_id=charge["terminal_id"], merchant_id=charge["merchant_id"], stan=charge["stan"],
                  amount=charge["amount"], reference=str(charge["id"]), transmitted_at=charge["created_at"],
                  rrn=charge["rrn"])


class ChargeService:
    def __init__(self, pool, state: RuntimeState, psps: PspPool, issuer: ReceiptIssuer,
                 terminal_locks: TerminalLocks, *,
                 recovery_grace: timedelta, replay_wait: float = 30.0, clock=utcnow) -> None:
        self.pool = pool
        self.state = state
        self.psps = psps
        self.issuer = issuer
        self.terminal_locks = terminal_locks
        self.recovery_grace = recovery_grace
        self.replay_wait = replay_wait
        self.clock = clock

    async def create(self, principal: Principal, idempotency_key: str, intent: ChargeIntent,
                     request_hash: bytes) -> tuple[int, dict]:
        now = self.clock()
        registry = self.state.registry
        office_id = registry.terminals[intent.terminal_id].office_id
        decision = assess_charge(intent, registry, self.state.tariffs, now)
        if isinstance(decision, Refusal):
            return await self._refuse(decision, intent, office_id, idempotency_key, request_hash, now)
        lock = await self.terminal_locks.acquire(office_id, intent.terminal_id, idempotency_key)
        if not lock.taken and lock.holder == idempotency_key:
            # Our own first attempt holds the terminal and may not have stored its key yet. Once it has, this is a
            # replay; if it let the terminal go without storing it, this request takes the terminal in its place.
            await self._await_key(office_id, intent.terminal_id, idempotency_key)
            lock = await self.terminal_locks.acquire(office_id, intent.terminal_id, idempotency_key)
        if not lock.taken:
            if await store.find_idempotency_key(self.pool, office_id, idempotency_key):
                return await self.replay(office_id, idempotency_key, request_hash)
            raise ApiError(409, "invalid_request_error", "terminal_busy",
                           "The terminal is serving another card; try again when it is free.",
                           param="terminal_id")
        try:
            charge = self._new_charge(decision, intent, now)
            stan = await store.insert_charge(self.pool, charge, idempotency_key, request_hash)
            if stan is None:
                return await self.replay(office_id, idempotency_key, request_hash)
            record = {**asdict(charge), "stan": stan, "status": Status.CREATED.value, "rrn": None,
                      "auth_code": None, "masked_pan": None, "decline_code": None, "tracking_code": None,
                      "completed_at": None, "receipt": None, "claim_epoch": 0}
            return await self._drive(record)
        finally:
            await self.terminal_locks.release(office_id, intent.terminal_id, lock.token)

    async def _await_key(self, office_id: str, terminal_id: str, idempotency_key: str) -> None:
        """Until the first attempt has stored its key, or has let the terminal go without storing it."""
        deadline = asyncio.get_running_loop().time() + self.replay_wait
        delay = 0.005
        while (not await store.find_idempotency_key(self.pool, office_id, idempotency_key)
               and asyncio.get_running_loop().time() < deadline
               and await self.terminal_locks.holder(office_id, terminal_id) == idempotency_key):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _new_charge(self, plan: ChargePlan, intent: ChargeIntent, now: datetime) -> store.NewCharge:
        return store.NewCharge(
            id=uuid7(), office_id=plan.office.id, terminal_id=plan.terminal.terminal_id,
            merchant_id=plan.terminal.merchant_id, psp_id=plan.psp.id, operator_id=plan.operator.id,
            service_code=plan.service.code, quantity=intent.quantity,
            extras=[{"code": code, "quantity": qty} for code, qty in intent.extras],
            recipient_name=intent.recipient_name, recipient_national_code=intent.recipient_national_code,
            recipient_mobile=intent.recipient_mobile, amount=intent.amount, breakdown=plan.breakdown,
            tariff_reference=plan.tariff_reference,
            settlement_rows=[{"iban": r.iban, "amount": r.amount, "payment_id": r.payment_id}
                             for r in plan.settlement_rows],
            verify_deadline=plan.verify_deadline, next_recovery_at=now + self.recovery_grace, created_at=now)

    async def _refuse(self, refusal: Refusal, intent: ChargeIntent, office_id: str, idempotency_key: str,
                      request_hash: bytes, now: datetime) -> tuple[int, dict]:
        body = refusal.error_body()
        record = store.RefusalRecord(
            office_id=office_id, terminal_id=intent.terminal_id, operator_id=intent.operator_id,
            service_code=intent.service_code, reason=refusal.reason, requested=refusal.requested, cap=refusal.cap,
            excess=refusal.excess, payment_method=intent.payment_method,
            recipient_national_code=intent.recipient_national_code, tariff_reference=refusal.tariff_reference,
            created_at=now, details=refusal.details)
        if not await store.record_refusal(self.pool, record, idempotency_key, request_hash,
                                          refusal.http_status, body):
            return await self.replay(office_id, idempotency_key, request_hash)
        metrics.CHARGE_OUTCOMES.labels(outcome=f"refused_{refusal.reason}").inc()
        return refusal.http_status, body

    async def _drive(self, charge: dict) -> tuple[int, dict]:
        if self.clock() + timedelta(seconds=self.psps.timeout) >= charge["next_recovery_at"]:
            # Too late to push: recovery may already be asking the PSP about this charge, and a purchase that
            # reached the PSP after recovery heard "not found" would take money for an expired charge.
            await store.move_charge(self.pool, charge["id"], Status.FAILED, epoch=charge["claim_epoch"],
                                    note="not sent: the hot path ran out of its lease", at=utcnow())
            return await self.current_answer(charge["id"])
        adapter = self.psps.adapter(charge["psp_id"])
        plan_rows = tuple(self.psps.settlement_rows(charge["settlement_rows"]))
        request = PurchaseRequest(
            terminal_id=charge["terminal_id"], merchant_id=charge["merchant_id"], amount=charge["amount"],
            stan=charge["stan"], reference=str(charge["id"]), transmitted_at=charge["created_at"],
            settlement_rows=plan_rows, print_lines=(f"{charge['service_code']}", f"{charge['amount']} IRR"))
        with metrics.PSP_LATENCY.labels(psp=charge["psp_id"], operation="purchase").time():
            reply = await adapter.purchase(request)
        if reply.outcome is Outcome.DECLINED:
            status = status_for_decline(reply.response_code)
            return await self._moved(charge, status, rrn=reply.rrn, masked_pan=reply.masked_pan,
                                     decline_code=reply.response_code)
        if reply.outcome is Outcome.UNKNOWN:
            return await self._moved(charge, Status.SENT, note=reply.detail, next_recovery_at=utcnow())
        charge = {**charge, "rrn": reply.rrn, "auth_code": reply.auth_code, "masked_pan": reply.masked_pan}
        return await self.verify_and_complete(charge, reply, retry_delay=timedelta(0))

    async def verify_and_complete(self, charge: dict, purchase: PspReply, *,
                                  retry_delay: timedelta) -> tuple[int, dict]:
        """Verifies an approved purchase and completes the charge; an unclear answer leaves it pending for
        recovery after `retry_delay`."""
        adapter = self.psps.adapter(charge["psp_id"])
        with metrics.PSP_LATENCY.labels(psp=charge["psp_id"], operation="verify").time():
            verify = await adapter.verify(txn_ref(charge))
        if verify.outcome is Outcome.APPROVED:
            return await self.complete(charge, purchase)
        if verify.outcome is Outcome.DECLINED:
            # The PSP refuses to confirm an approval: undo it so the cardholder is not charged.
            with metrics.PSP_LATENCY.labels(psp=charge["psp_id"], operation="reverse").time():
                reversal = await adapter.reverse(txn_ref(charge))
            if reversal.outcome is Outcome.APPROVED:
                return await self._moved(charge, Status.REVERSED, note=f"verify refused {verify.response_code}")
        return await self._moved(charge, Status.AUTHORIZED, note=verify.detail or f"verify {verify.outcome}",
                                 next_recovery_at=utcnow() + retry_delay)

    async def complete(self, charge: dict, reply: PspReply) -> tuple[int, dict]:
        """Issues the receipt of a charge the PSP holds verified, unless someone else finished it first."""
        now = utcnow()
        receipt = await self.issuer.complete(self.pool, charge, reply, self.state.registry, now)
        if receipt is None:
            return await self.current_answer(charge["id"])
        return self._answer({**charge, "status": Status.COMPLETED.value, "completed_at": now,
                             "rrn": reply.rrn, "auth_code": reply.auth_code, "masked_pan": reply.masked_pan,
                             "tracking_code": receipt["receipt"]["tracking_code"], "receipt": receipt})

    async def _moved(self, charge: dict, status: Status, *, note: str | None = None,
                     next_recovery_at: datetime | None = None, **psp_fields) -> tuple[int, dict]:
        """Records the new status with what the PSP just said (rrn, masked_pan, decline_code) and answers with it,
        or with the current state if the charge is no longer this caller's to change."""
        charge = {**charge, **psp_fields, "status": status.value}
        if not await store.move_charge(self.pool, charge["id"], status, epoch=charge["claim_epoch"],
                                       rrn=charge["rrn"], auth_code=charge["auth_code"],
                                       masked_pan=charge["masked_pan"], decline_code=charge["decline_code"],
                                       note=note, next_recovery_at=next_recovery_at, at=utcnow()):
            return await self.current_answer(charge["id"])
        return self._answer(charge)

    def _answer(self, charge: dict) -> tuple[int, dict]:
        metrics.CHARGE_OUTCOMES.labels(outcome=charge["status"]).inc()
        return charge_answer(charge)

    async def current_answer(self, charge_id: uuid.UUID) -> tuple[int, dict]:
        return charge_answer(await store.get_charge(self.pool, charge_id))

    async def replay(self, office_id: str, idempotency_key: str, request_hash: bytes) -> tuple[int, dict]:
        """A repeated Idempotency-Key: the first answer, once the first request has one."""
        row = await store.find_idempotency_key(self.pool, office_id, idempotency_key)
        if row["request_hash"] != request_hash:
            raise ApiError(409, "idempotency_error", "idempotency_key_reused",
                           "This Idempotency-Key was already used with a different request body.",
                           param="Idempotency-Key")
        if row["response_status"] is not None:
            return row["response_status"], row["response_body"]
        deadline = asyncio.get_running_loop().time() + self.replay_wait
        delay = 0.05
        while True:
            charge = await store.get_charge(self.pool, row["charge_id"])
            if Status(charge["status"]) in FINAL or asyncio.get_running_loop().time() >= deadline:
                return charge_answer(charge)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
