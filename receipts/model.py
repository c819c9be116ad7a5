"""The electronic receipt: what goes into it and the unsigned document built from that.

The document carries the nine fields the regulator requires on every receipt (letter 100/15131,
item 9), with their Persian labels and in the regulation's order, plus the references an auditor
needs: office code and receipt sequence, charge, PSP references, fee breakdown, tariff approval
and the hash of the office's previous receipt. `receipts.signing` adds `key_id` and signs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.core.identifiers import MAX_SEQUENCE, make_tracking_code
from gateway.core.identity import RECEIPT_LABEL
from gateway.core.jalali import format_utc
from gateway.core.text import normalize_persian

RECEIPT_VERSION = 1

# (key, label) in the order of the regulation's sentence.
REQUIRED_FIELDS: tuple[tuple[str, str], ...] = (
    ("service_name", "نام خدمت"),
    ("recipient_name", "نام خدمت‌گیرنده"),
    ("tracking_code", "شماره رهگیری"),
    ("issued_at", "تاریخ و زمان ارایه خدمت"),
    ("amount", "مبلغ اخذ شده"),
    ("licence_holder", "نام دارنده پروانه"),
    ("licence_number", "شماره پروانه"),
    ("operator_name", "متصدی ارایه‌کننده خدمت"),
    ("office_address", "نشانی دفتر"),
)

# Free text typed by people; stored and signed in its normal form.
_PERSIAN_TEXT_FIELDS = (
    "service_name",
    "recipient_name",
    "licence_holder",
    "licence_number",
    "operator_name",
    "office_address",
    "tariff_reference",
)
_IDENTIFIER_FIELDS = ("service_code", "operator_id", "terminal_id", "psp_id", "rrn", "stan", "charge_id")
_OFFICE_CODE = re.compile(r"[0-9]{8}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A masked card number keeps at most its first six and last four digits.
_MAX_VISIBLE_PAN_DIGITS = 10


class ReceiptInputError(ValueError):
    """The input cannot make a valid receipt; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class ReceiptInput:
    office_code: str
    seq: int
    tracking_code: str
    issued_at: datetime
    service_code: str
    service_name: str
    recipient_name: str
    amount: int
    licence_holder: str
    licence_number: str
    operator_name: str
    operator_id: str
    office_address: str
    terminal_id: str
    psp_id: str
    rrn: str
    stan: str
    masked_pan: str
    tariff_reference: str
    # As gateway.core.tariffs.Charged.breakdown gives it: {"government_share": int, "office_fee": int,
    # "extras": [{"code", "name", "quantity", "amount"}], ...}; other keys are not copied.
    breakdown: Mapping[str, Any]
    charge_id: str
    prev_hash: str
    # How the recipient was authenticated («تأیید با استعلام ثبت احوال و شاهکار»), when the service's policy asked
    # for an identity inquiry; signed with the rest under the label «احراز اصالت خدمت‌گیرنده».
    authentication: str | None = None


def _rials(field: str, value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ReceiptInputError(field, "must be a non-negative whole number of rials")
    return value


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ReceiptInputError(field, "must be text")
    normal = normalize_persian(value)
    if not normal:
        raise ReceiptInputError(field, "must not be empty")
    return normal


def _identifier(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value or not value.isascii() or not value.isprintable():
        raise ReceiptInputError(field, "must be non-empty printable ASCII")
    return value


def _extra(index: int, item: Any) -> dict[str, Any]:
    field = f"breakdown.extras[{index}]"
    if not isinstance(item, Mapping):
        raise ReceiptInputError(field, "must be an object with code, name, quantity and amount")
    quantity = item.get("quantity")
    if type(quantity) is not int or quantity < 1:
        raise ReceiptInputError(f"{field}.quantity", "must be a positive integer")
    return {
        "code": _identifier(f"{field}.code", item.get("code")),
        "name": _text(f"{field}.name", item.get("name")),
        "quantity": quantity,
        "amount": _rials(f"{field}.amount", item.get("amount")),
    }


def _breakdown(breakdown: Any, amount: int) -> dict[str, Any]:
    if not isinstance(breakdown, Mapping):
        raise ReceiptInputError("breakdown", "must be an object")
    extras_in = breakdown.get("extras", [])
    if not isinstance(extras_in, (list, tuple)):
        raise ReceiptInputError("breakdown.extras", "must be a list")
    government_share = _rials("breakdown.government_share", breakdown.get("government_share"))
    office_fee = _rials("breakdown.office_fee", breakdown.get("office_fee"))
    extras = [_extra(index, item) for index, item in enumerate(extras_in)]
    result = {"government_share": government_share, "office_fee": office_fee, "extras": extras}
    total = government_share + office_fee + sum(extra["amount"] for extra in extras)
    if total != amount:
        raise ReceiptInputError("breakdown", f"parts add up to {total} rials, not the amount collected ({amount})")
    return result


def _masked_pan(value: Any) -> str:
    pan = _identifier("masked_pan", value)
    if sum(char.isdigit() for char in pan) > _MAX_VISIBLE_PAN_DIGITS:
        raise ReceiptInputError("masked_pan", "must be masked (first six and last four digits at most)")
    return pan


def _validated(inp: ReceiptInput) -> dict[str, Any]:
    """The input's values in the form they are signed in."""
    if not isinstance(inp.office_code, str) or not _OFFICE_CODE.fullmatch(inp.office_code):
        raise ReceiptInputError("office_code", "must be 8 digits")
    if type(inp.seq) is not int or not 1 <= inp.seq <= MAX_SEQUENCE:
        raise ReceiptInputError("seq", f"must be an integer from 1 to {MAX_SEQUENCE}")
    if inp.tracking_code != make_tracking_code(inp.office_code, inp.seq):
        raise ReceiptInputError("tracking_code", "does not belong to this office code and sequence number")
    if not isinstance(inp.issued_at, datetime) or inp.issued_at.utcoffset() is None:
        raise ReceiptInputError("issued_at", "must be a timezone-aware datetime")
    if not isinstance(inp.prev_hash, str) or not _SHA256_HEX.fullmatch(inp.prev_hash):
        raise ReceiptInputError("prev_hash", "must be 64 lowercase hex digits")
    amount = _rials("amount", inp.amount)
    values: dict[str, Any] = {
        "tracking_code": inp.tracking_code,
        "issued_at": format_utc(inp.issued_at),
        "amount": amount,
        "masked_pan": _masked_pan(inp.masked_pan),
        "breakdown": _breakdown(inp.breakdown, amount),
    }
    values.update((name, _text(name, getattr(inp, name))) for name in _PERSIAN_TEXT_FIELDS)
    values.update((name, _identifier(name, getattr(inp, name))) for name in _IDENTIFIER_FIELDS)
    return values


def build_receipt(inp: ReceiptInput) -> dict[str, Any]:
    """The unsigned receipt document; raises ReceiptInputError when the input is not a valid receipt."""
    values = _validated(inp)
    document: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "office_code": inp.office_code,
        "seq": inp.seq,
        "tracking_code": values["tracking_code"],
        "issued_at": values["issued_at"],
        "fields": [{"key": key, "label": label, "value": values[key]} for key, label in REQUIRED_FIELDS],
        "charge_id": values["charge_id"],
        "service_code": values["service_code"],
        "operator_id": values["operator_id"],
        "breakdown": values["breakdown"],
        "payment": {name: values[name] for name in ("psp_id", "terminal_id", "rrn", "stan", "masked_pan")},
        "tariff_reference": values["tariff_reference"],
        "prev_hash": inp.prev_hash,
    }
    if inp.authentication is not None:
        document["authentication"] = {
            "label": RECEIPT_LABEL,
            "value": _text("authentication", inp.authentication),
        }
    return document


def parse_timestamp(text: Any) -> datetime:
    """An RFC 3339 timestamp with an offset (such as a receipt's `issued_at`) as an aware UTC datetime."""
    if not isinstance(text, str):
        raise ValueError("a timestamp must be RFC 3339 text")
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return moment.astimezone(UTC)


def field_value(document: Mapping[str, Any], key: str) -> Any:
    """The value of one of the nine required fields of a receipt document; KeyError if absent."""
    for field in document["fields"]:
        if field["key"] == key:
            return field["value"]
    raise KeyError(key)
