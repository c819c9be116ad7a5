"""The public JSON form of a void, and what POST /v1/charges/{id}/void answers for a void in its current state."""

from __future__ import annotations

from typing import Any

from gateway.core.errors import VoidWindowClosed
from gateway.core.jalali import format_utc
from gateway.core.voids import Void, VoidStatus, refund_details
from gateway.web.errors import status_of


def void_view(void: Void) -> dict[str, Any]:
    return {
        "id": str(void.id),
        "object": "void",
        "charge_id": str(void.charge_id),
        "status": void.status.value,
        "amount": void.amount,
        "currency": "IRR",
        "office_id": void.office_id,
        "psp_id": void.psp_id,
        "reason": void.reason.value,
        "reason_text": void.reason_text,
        "response_code": void.response_code,
        "cancellation_tracking_code": void.tracking_code,
        "window_closes_at": format_utc(void.window_closes_at),
        "created_at": format_utc(void.created_at),
        "finalized_at": format_utc(void.finalized_at) if void.finalized_at else None,
    }


def void_answer(void: Void) -> tuple[int, dict[str, Any]]:
    """201 reversed (with its cancellation receipt), 202 still pending, 409 refused by the PSP: a refund instead."""
    view = void_view(void)
    if void.status is VoidStatus.REVERSED:
        return 201, view
    if void.pending:
        return 202, view
    error = VoidWindowClosed(
        f"The PSP refused the reversal (response code {void.response_code}); the fee must be refunded instead.",
        details={**refund_details(void.window_closes_at), "void": view},
    )
    return status_of(error), error.body()
