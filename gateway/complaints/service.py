"""Filing a complaint and following it: the one-time code, the complaint and its SMS, the regulator's decision
and, for an upheld complaint of excess fee or cash, the finding against the office."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.complaints import rules, store
from gateway.complaints.otp import ComplaintCodes
from gateway.core.errors import ComplaintCodeInvalid, ResourceMissing
from gateway.core.registry import Registry
from gateway.oversight.store import NewViolation, insert_findings


def _sender(registry: Registry, office_id: str) -> str:
    office = registry.offices.get(office_id)
    return office.sms_line if office else "4040"


def code_text(code: str) -> str:
    return f"کد تأیید ثبت شکایت: {code}\nاین کد را به کسی ندهید."


def status_text(number: str, status: str) -> str:
    return f"شکایت {number}: {rules.STATUSES[status]}."


@dataclass
class Complaints:
    pool: asyncpg.Pool
    codes: ComplaintCodes

    async def send_code(
        self, registry: Registry, tracking_code: str, mobile: str, client_address: str, now: datetime
    ) -> None:
        """Sends a code to `mobile` only when the receipt was sent to it; answers alike either way."""
        await self.codes.count_request(mobile, client_address)
        receipt = await store.receipt_of(self.pool, tracking_code)
        if receipt is None or receipt["mobile"] != mobile:
            return
        code = await self.codes.issue(tracking_code, mobile)
        message_id = f"complaint-code-{tracking_code}-{int(now.timestamp() * 1000)}"
        sender = _sender(registry, receipt["office_id"])
        await store.queue_sms(self.pool, receipt["office_id"], message_id, mobile, sender, code_text(code), now)

    async def file(
        self,
        registry: Registry,
        tracking_code: str,
        mobile: str,
        code: str,
        category: str,
        body: str,
        now: datetime,
    ) -> str:
        await self.codes.check(tracking_code, mobile, code)
        receipt = await store.receipt_of(self.pool, tracking_code)
        if receipt is None or receipt["mobile"] != mobile:
            raise ComplaintCodeInvalid(param="code")  # cannot happen after a good code; says nothing more
        number = rules.new_complaint_number()
        async with self.pool.acquire() as conn, conn.transaction():
            await store.insert_complaint(conn, number, receipt, tracking_code, category, body, now)
            await self._tell(conn, registry, receipt["office_id"], number, mobile, "received", now)
        return number

    async def _tell(self, conn, registry, office_id: str, number: str, mobile: str, status: str, now) -> None:
        sender = _sender(registry, office_id)
        text = status_text(number, status)
        await store.queue_sms(conn, office_id, f"complaint-{number}-{status}", mobile, sender, text, now)

    async def decide(self, registry: Registry, number: str, status: str, note: str | None, now: datetime) -> None:
        """Moves the complaint, tells the citizen by SMS, and records a finding for an upheld excess fee or cash."""
        async with self.pool.acquire() as conn, conn.transaction():
            complaint = await store.get_complaint(conn, number, for_update=True)
            if complaint is None:
                raise ResourceMissing("No such complaint.")
            rules.checked_move(complaint["status"], status)
            await store.set_status(conn, number, status, note, now)
            await self._tell(conn, registry, complaint["office_id"], number, complaint["mobile"], status, now)
            kind = rules.finding_type(complaint["category"])
            if status == "upheld" and kind is not None:
                receipt = await store.receipt_of(conn, complaint["tracking_code"])
                await insert_findings(conn, [_finding(complaint, receipt, kind, note)])


def _finding(complaint, receipt, kind: str, note: str | None) -> NewViolation:
    return NewViolation(
        office_id=complaint["office_id"],
        type=kind,
        evidence_key=f"complaint:{complaint['number']}",
        evidence={
            "complaint": complaint["number"],
            "category": complaint["category"],
            "tracking_code": complaint["tracking_code"],
            "note": note or complaint["note"],
        },
        occurred_at=receipt["issued_at"],
        terminal_id=receipt["terminal_id"],
        operator_id=receipt["operator_id"],
        service_code=receipt["service_code"],
        amount=receipt["amount"],
        excess=None,
    )
