"""The public JSON form of a charge, from a database row or the same fields held in memory."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from gateway.domain.charge_states import Status, http_status_for
from gateway.domain.identifiers import mask_mobile, mask_national_code


def _ts(value: datetime | None) -> str | None:
    return value.astimezone().isoformat().replace("+00:00", "Z") if value else None


def _masked_recipient(channel: str, recipient: str) -> str:
    if channel == "sms":
        return mask_mobile(recipient)
    return "iran" + mask_national_code(recipient.removeprefix("iran"))


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


def charge_view(row: Mapping, messages: Sequence[Mapping] | None = None) -> dict:
    """The charge; with `messages` (its outbox rows) also a `messages` list of their delivery states."""
    view = {
        "id": str(row["id"]),
        "object": "charge",
        "status": row["status"],
        "amount": row["amount"],
        "currency": "IRR",
        "office_id": row["office_id"],
        "terminal_id": row["terminal_id"],
        "operator_id": row["operator_id"],
        "service_code": row["service_code"],
        "quantity": row["quantity"],
        "extras": row["extras"],
        "breakdown": row["breakdown"],
        "tariff_reference": row["tariff_reference"],
        "settlement_rows": row["settlement_rows"],
        "psp_id": row["psp_id"],
        "rrn": row["rrn"],
        "stan": row["stan"],
        "masked_pan": row["masked_pan"],
        "decline_code": row["decline_code"],
        "tracking_code": row["tracking_code"],
        "created_at": _ts(row["created_at"]),
        "completed_at": _ts(row["completed_at"]),
        "receipt": row.get("receipt"),
    }
    if messages is not None:
        view["messages"] = [message_view(message) for message in messages]
    return view


def charge_answer(row: Mapping) -> tuple[int, dict]:
    """What POST /v1/charges answers for a charge in its current state (the same for the first call and replays)."""
    view = charge_view(row)
    status = Status(row["status"])
    http_status = http_status_for(status)
    if http_status == 402:
        return 402, {"error": {
            "type": "card_error", "code": "card_declined" if status is Status.DECLINED else "cancelled_by_cardholder",
            "message": f"The card payment was not approved (response code {row['decline_code']}).",
            "param": None, "decline_code": row["decline_code"],
            "details": {"decline_code": row["decline_code"], "charge": view}}}
    if http_status == 502:
        return 502, {"error": {
            "type": "psp_error", "code": f"charge_{status.value}",
            "message": "The PSP did not complete this payment; no money was taken.",
            "param": None, "details": {"charge": view}}}
    return http_status, view
