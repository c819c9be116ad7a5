"""The public JSON form of a charge, and what POST /v1/charges answers for a charge in its current state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway.core.charge import PENDING, Charge, Status
from gateway.core.errors import (
    CancelledByCardholder,
    CardDeclined,
    ChargeExpired,
    ChargeFailed,
    ChargeReversed,
    GatewayError,
)
from gateway.core.identifiers import mask_mobile
from gateway.core.jalali import format_utc
from gateway.core.recipients import POOSHEH_PREFIX, masked_identifier
from gateway.web.errors import status_of

_UNPAID: Mapping[Status, type[GatewayError]] = {
    Status.DECLINED: CardDeclined,
    Status.CANCELLED: CancelledByCardholder,
    Status.EXPIRED: ChargeExpired,
    Status.REVERSED: ChargeReversed,
    Status.FAILED: ChargeFailed,
}


def _ts(value: datetime | None) -> str | None:
    return format_utc(value) if value else None


def _masked_recipient(channel: str, recipient: str) -> str:
    if channel == "sms":
        return mask_mobile(recipient)
    return POOSHEH_PREFIX + masked_identifier(recipient.removeprefix(POOSHEH_PREFIX))


def message_view(row: Mapping) -> dict:
    """One outbox message of the charge, with its delivery state; the recipient is masked."""
    return {
        "channel": row["channel"],
        "message_id": row["message_id"],
        "recipient": _masked_recipient(row["channel"], row["recipient"]),
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "provider_message_id": row["provider_message_id"],
        "sent_at": _ts(row["sent_at"]),
        "delivery_status": row["delivery_status"],
        "delivery_status_at": _ts(row["delivery_status_at"]),
    }


def charge_view(charge: Charge, messages: Sequence[Mapping] | None = None) -> dict[str, Any]:
    """The charge; with `messages` (its outbox rows) also a `messages` list of their delivery states."""
    view: dict[str, Any] = {
        "id": str(charge.id),
        "object": "charge",
        "status": charge.status.value,
        "amount": charge.amount,
        "currency": "IRR",
        "office_id": charge.office_id,
        "terminal_id": charge.terminal_id,
        "operator_id": charge.operator_id,
        "service_code": charge.service_code,
        "quantity": charge.quantity,
        "extras": [{"code": extra.code, "quantity": extra.quantity} for extra in charge.extras],
        "breakdown": charge.breakdown,
        "tariff_reference": charge.tariff_reference,
        "settlement_rows": [
            {"iban": row.iban, "amount": row.amount, "payment_id": row.payment_id} for row in charge.settlement_rows
        ],
        "psp_id": charge.psp_id,
        "rrn": charge.rrn,
        "stan": charge.stan,
        "masked_pan": charge.masked_pan,
        "decline_code": charge.decline_code,
        "tracking_code": charge.tracking_code,
        "created_at": _ts(charge.created_at),
        "completed_at": _ts(charge.completed_at),
        "receipt": charge.receipt,
        "identity": charge.identity.to_document() if charge.identity is not None else None,
    }
    if messages is not None:
        view["messages"] = [message_view(message) for message in messages]
    return view


def charge_answer(charge: Charge) -> tuple[int, dict[str, Any]]:
    """What POST /v1/charges answers for a charge in its current state (the same for the first call and replays):
    201 completed, 202 still pending, else the named error of why no money was taken, with the charge."""
    view = charge_view(charge)
    if charge.status is Status.COMPLETED:
        return 201, view
    if charge.status in PENDING:
        return 202, view
    error_class = _UNPAID[charge.status]
    if charge.status in (Status.DECLINED, Status.CANCELLED):
        error = error_class(
            f"The card payment was not approved (response code {charge.decline_code}).",
            details={"decline_code": charge.decline_code, "charge": view},
        )
        body = error.body()
        body["error"]["decline_code"] = charge.decline_code
        return status_of(error), body
    error = error_class(details={"charge": view})
    return status_of(error), error.body()
