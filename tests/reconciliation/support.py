"""Driving a day for reconciliation: charges through the gateway, card-reader activity outside it (straight to
the PSP host over its own protocol, as an office's own POS software would), the host's daily files, and their
import."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

from gateway.core.jalali import tehran_date
from gateway.core.psp import Outcome, PspReply, PurchaseRequest, SettlementRow, TxnRef
from psp_adapters.registry import create_adapter
from tests.simulators.psp_support import CAPABILITIES
from tests.stack import charge_body

_offbook_stans = itertools.count(900_001)


def charge_day(charge: dict) -> str:
    """The Tehran day the charge completed on, as the statement and report `date` takes it."""
    return tehran_date(datetime.fromisoformat(charge["completed_at"])).isoformat()


async def charge_cap(gateway, key: str, terminal_id: str, operator_id: str, service_code: str) -> dict:
    """A completed charge of exactly the tariff cap for the service."""
    status, quote = await gateway.request("GET", f"/v1/tariffs/quote?service_code={service_code}", key=key)
    assert status == 200, quote
    status, charge = await gateway.charge(
        key,
        charge_body(terminal_id=terminal_id, operator_id=operator_id, service_code=service_code, amount=quote["cap"]),
    )
    assert status == 201 and charge["status"] == "completed", charge
    return charge


async def daily_file(http_session, host, kind: str, day: str, **options) -> bytes:
    async with http_session.post(
        f"{host.control_url}/daily-files", json={"kind": kind, "date": day, **options}
    ) as response:
        assert response.status == 200, await response.text()
        return await response.read()


async def import_file(gateway, key: str, psp_id: str, kind: str, body: bytes) -> tuple[int, dict]:
    return await gateway.request(
        "POST",
        f"/v1/psps/{psp_id}/settlement-files?kind={kind}",
        key=key,
        data=body,
        headers={"Content-Type": "text/csv"},
    )


class DirectLine:
    """A PSP host reached without the gateway, over its own protocol, as the office's POS software reaches it."""

    def __init__(self, host, psp_id: str, demo_psp: dict) -> None:
        self._adapter = create_adapter(
            psp_id, host.protocol, {**demo_psp["endpoint"], "port": host.port}, CAPABILITIES, 3.0
        )

    async def close(self) -> None:
        await self._adapter.close()

    async def offbook_purchase(self, terminal_id: str, merchant_id: str, amount: int, iban: str) -> PspReply:
        """Rung up on the card reader: approved, verified, and settled by the PSP to the office's own account."""
        request = PurchaseRequest(
            terminal_id=terminal_id,
            merchant_id=merchant_id,
            amount=amount,
            stan=f"{next(_offbook_stans):06d}",
            reference="",
            transmitted_at=datetime.now(UTC),
            settlement_rows=(SettlementRow(iban, amount, "0"),),
        )
        purchase = await self._adapter.purchase(request)
        assert purchase.outcome is Outcome.APPROVED, purchase
        verify = await self._adapter.verify(
            TxnRef(
                terminal_id=terminal_id,
                merchant_id=merchant_id,
                stan=request.stan,
                amount=amount,
                reference="",
                transmitted_at=request.transmitted_at,
                rrn=purchase.rrn,
            )
        )
        assert verify.outcome is Outcome.APPROVED, verify
        return purchase

    async def reverse(self, charge: dict, merchant_id: str) -> None:
        """The PSP undoes a purchase the gateway completed (a reversal that reached it from elsewhere)."""
        reply = await self._adapter.reverse(
            TxnRef(
                terminal_id=charge["terminal_id"],
                merchant_id=merchant_id,
                stan=charge["stan"],
                amount=charge["amount"],
                reference=charge["id"],
                transmitted_at=datetime.fromisoformat(charge["created_at"]),
                rrn=charge["rrn"],
            )
        )
        assert reply.outcome is Outcome.APPROVED, reply


async def void_charge(gateway, key: str, charge: dict) -> dict:
    """Voids a completed charge through the gateway (the PSP reverses it)."""
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/void",
        key=key,
        json={"reason": "wrong_service", "reason_text": "خدمت اشتباه انتخاب شد"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, void
    return void


async def refund_charge(gateway, key: str, charge: dict) -> dict:
    """Refunds a completed charge through the gateway (the PSP takes the instruction; its rows come back later)."""
    status, refund = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/refund",
        key=key,
        json={"reason": "service_not_delivered", "reason_text": "خدمت ارایه نشد"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, refund
    return refund
