"""Charges and voids as the void and refund rules see them."""

import uuid
from datetime import UTC, datetime, timedelta

from gateway.core.charge import Charge, Recipient, Status
from gateway.core.voids import Void, VoidReason, VoidStatus

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PSP_TIMEOUT = timedelta(seconds=5)


def charge(status: Status = Status.COMPLETED) -> Charge:
    return Charge(
        id=uuid.uuid4(),
        office_id="11110001",
        terminal_id="10000001",
        merchant_id="000000110000001",
        psp_id="psp-mellat",
        operator_id="op-11",
        service_code="1101",
        quantity=1,
        extras=(),
        recipient=Recipient("علی رضایی", "0012345679", "09121234567"),
        amount=700_000,
        breakdown={},
        tariff_reference="t",
        settlement_rows=(),
        verify_deadline=T0 + timedelta(minutes=15),
        created_at=T0,
        status=status,
    )


def void_of(c: Charge, status: VoidStatus) -> Void:
    return Void(
        id=uuid.uuid4(),
        charge_id=c.id,
        office_id=c.office_id,
        psp_id=c.psp_id,
        amount=c.amount,
        reason=VoidReason.WRONG_SERVICE,
        reason_text="x",
        requested_by="k",
        window_closes_at=T0 + timedelta(hours=1),
        created_at=T0,
        status=status,
    )
