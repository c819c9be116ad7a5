"""The cancellation receipt (رسید ابطال): the signed record that a completed charge was voided and its money
returned to the card. It is one more link in the office's chain, with its own sequence number and tracking code,
and it names the receipt it cancels by tracking code and receipt hash, so an auditor holding the chain can pair
them without the gateway.

The money goes back one of two ways, which the document signs as `returned_by`: a reversal of the purchase at the
PSP within its reversal window (a void: back to the card at once), or a refund instructed after it (back to the card
through the PSP's settlement, taken from the accounts the charge's split settlement paid). A receipt has at most one
cancellation, whichever way its money went back.

It is built from the original signed receipt: the service, the recipient, the office and the payment references
are the original's, so a cancellation cannot describe a payment other than the one it undoes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.core.identifiers import make_tracking_code
from gateway.core.jalali import format_utc
from gateway.core.text import normalize_persian
from receipts.chain import IssuedReceipt, receipt_hash
from receipts.model import RECEIPT_VERSION, ReceiptInputError, field_value
from receipts.signing import Keyring

KIND = "cancellation"
RETURNED_BY = ("reversal", "refund")

# The nine fields of the original with the labels of a cancellation, then what it cancels and why.
CANCELLATION_LABELS: tuple[tuple[str, str], ...] = (
    ("service_name", "نام خدمت"),
    ("recipient_name", "نام خدمت‌گیرنده"),
    ("tracking_code", "شماره رهگیری ابطال"),
    ("issued_at", "تاریخ و زمان ابطال"),
    ("amount", "مبلغ مسترد شده"),
    ("licence_holder", "نام دارنده پروانه"),
    ("licence_number", "شماره پروانه"),
    ("operator_name", "متصدی ارایه‌کننده خدمت"),
    ("office_address", "نشانی دفتر"),
    ("cancelled_tracking_code", "شماره رهگیری رسید ابطال‌شده"),
    ("reason", "علت ابطال"),
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_REASON_TEXT = 500


@dataclass(frozen=True, slots=True)
class CancellationInput:
    original: Mapping[str, Any]  # the signed receipt being cancelled ({"receipt": ..., "signature": ...})
    original_hash: str  # its receipt hash
    seq: int  # the cancellation's place in the office's chain
    tracking_code: str
    issued_at: datetime
    reason_code: str
    reason_label: str  # the fixed reason as printed
    reason_text: str  # the office's own words
    prev_hash: str
    returned_by: str = "reversal"  # one of RETURNED_BY


def is_cancellation(document: Mapping[str, Any]) -> bool:
    return document.get("kind") == KIND


def build_cancellation(inp: CancellationInput) -> dict[str, Any]:
    """The unsigned cancellation document; raises ReceiptInputError when the input cannot make one."""
    original = inp.original["receipt"]
    if is_cancellation(original):
        raise ReceiptInputError("original", "a cancellation receipt cannot itself be cancelled")
    office_code = original["office_code"]
    if inp.tracking_code != make_tracking_code(office_code, inp.seq) or inp.seq <= original["seq"]:
        raise ReceiptInputError("tracking_code", "must be a later place in the original's office chain")
    if not _SHA256_HEX.fullmatch(inp.original_hash) or not _SHA256_HEX.fullmatch(inp.prev_hash):
        raise ReceiptInputError("prev_hash", "hashes must be 64 lowercase hex digits")
    if inp.returned_by not in RETURNED_BY:
        raise ReceiptInputError("returned_by", f"must be one of {', '.join(RETURNED_BY)}")
    if inp.issued_at.utcoffset() is None:
        raise ReceiptInputError("issued_at", "must be a timezone-aware datetime")
    reason_text = normalize_persian(inp.reason_text)
    if not reason_text or len(reason_text) > _MAX_REASON_TEXT:
        raise ReceiptInputError("reason_text", f"must be 1 to {_MAX_REASON_TEXT} characters")
    issued_at = format_utc(inp.issued_at)
    values = {key: field_value(original, key) for key, _ in CANCELLATION_LABELS[:9]}
    values |= {
        "tracking_code": inp.tracking_code,
        "issued_at": issued_at,
        "cancelled_tracking_code": original["tracking_code"],
        "reason": f"{inp.reason_label}: {reason_text}",
    }
    return {
        "version": RECEIPT_VERSION,
        "kind": KIND,
        "office_code": office_code,
        "seq": inp.seq,
        "tracking_code": inp.tracking_code,
        "issued_at": issued_at,
        "fields": [{"key": key, "label": label, "value": values[key]} for key, label in CANCELLATION_LABELS],
        "cancels": {
            "tracking_code": original["tracking_code"],
            "hash": inp.original_hash,
            "issued_at": original["issued_at"],
        },
        "reason": {"code": inp.reason_code, "text": reason_text},
        "returned_by": inp.returned_by,
        "charge_id": original["charge_id"],
        "service_code": original["service_code"],
        "operator_id": original["operator_id"],
        "breakdown": copy.deepcopy(original["breakdown"]),
        "payment": dict(original["payment"]),
        "tariff_reference": original["tariff_reference"],
        "prev_hash": inp.prev_hash,
    }


def issue_cancellation(inp: CancellationInput, keyring: Keyring) -> IssuedReceipt:
    """Build, sign and hash the cancellation receipt, the office's next link after `inp.prev_hash`."""
    signed = keyring.sign(build_cancellation(inp))
    return IssuedReceipt(signed, receipt_hash(signed))
