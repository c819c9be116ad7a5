"""The public JSON form of a refund, and what POST /v1/charges/{id}/refund answers for a refund in its state."""

from __future__ import annotations

from typing import Any

from gateway.core.errors import RefundRefused
from gateway.core.jalali import format_utc
from gateway.core.refunds import Refund, RefundStatus
from gateway.web.errors import status_of


def _utc(moment) -> str | None:
    return format_utc(moment) if moment else None


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": str(refund.id),
        "object": "refund",
        "charge_id": str(refund.charge_id),
        "status": refund.status.value,
        "amount": refund.amount,
        "currency": "IRR",
        "rows": [{"iban": row.iban, "amount": row.amount, "payment_id": row.payment_id} for row in refund.rows],
        "office_id": refund.office_id,
        "psp_id": refund.psp_id,
        "reason": refund.reason.value,
        "reason_text": refund.reason_text,
        "response_code": refund.response_code,
        "rrn": refund.rrn,
        "cancellation_tracking_code": refund.tracking_code,
        "created_at": format_utc(refund.created_at),
        "instructed_at": _utc(refund.instructed_at),
        "settled_at": _utc(refund.settled_at),
    }


def refund_answer(refund: Refund) -> tuple[int, dict[str, Any]]:
    """201 instructed or settled (with its cancellation receipt), 202 still pending, 422 refused by the PSP."""
    view = refund_view(refund)
    if refund.status in (RefundStatus.INSTRUCTED, RefundStatus.SETTLED):
        return 201, view
    if refund.pending:
        return 202, view
    error = RefundRefused(
        f"The PSP refused the refund (response code {refund.response_code}).", details={"refund": view}
    )
    return status_of(error), error.body()
