"""What anyone may learn about an issued receipt: genuine or altered, its place in its office's chain, the key that
signed it, and whether a presented copy (a scanned QR payload or a signed document) is the same receipt.

Nothing personal is in a verdict: no recipient name, national code or mobile. The caller reads the stored receipt
and its neighbours in the chain; this module only judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receipts.cancellation import is_cancellation
from receipts.chain import genesis_hash, receipt_hash
from receipts.model import field_value
from receipts.qr import verify_qr_payload
from receipts.signing import Keyring


@dataclass(frozen=True)
class StoredReceipt:
    office_id: str
    seq: int
    hash: str
    prev_hash: str
    signed: Mapping[str, Any]


class NotACopy(ValueError):
    """A presented document that is neither a QR payload nor a signed receipt."""


def is_genuine(signed: Mapping[str, Any], stored_hash: str, keyring: Keyring) -> bool:
    """A stored receipt is genuine when its signature holds and it still hashes to what its chain recorded."""
    return keyring.verify(signed).ok and receipt_hash(signed) == stored_hash


def verdict(
    stored: StoredReceipt, keyring: Keyring, previous_hash: str | None, next_prev_hash: str | None, tracking_code: str
) -> dict[str, Any]:
    """`previous_hash`: the hash of the office's receipt before this one; `next_prev_hash`: the prev_hash the one
    after it carries (None where there is none)."""
    signature = keyring.verify(stored.signed)
    expected_prev = genesis_hash(stored.office_id) if stored.seq == 1 else previous_hash
    receipt = stored.signed["receipt"]
    return {
        "tracking_code": tracking_code,
        "genuine": is_genuine(stored.signed, stored.hash, keyring),
        "signature": signature.to_dict(),
        "key_id": receipt.get("key_id"),
        "issued_at": receipt.get("issued_at"),
        "chain": {
            "office_code": stored.office_id,
            "seq": stored.seq,
            "hash": stored.hash,
            "prev_hash": stored.prev_hash,
            "links_to_previous": None if expected_prev is None else expected_prev == stored.prev_hash,
            "next_links_here": None if next_prev_hash is None else next_prev_hash == stored.hash,
        },
    }


def cancellation_verdict(receipt: Mapping[str, Any], counterpart: Mapping[str, Any] | None) -> dict[str, Any]:
    """How a receipt stands against cancellation. For a service receipt: `voided` (and by which cancellation, when,
    for which fixed reason, and how the money went back: `returned_by` reversal or refund, then `refunded`; the
    office's own words stay out, they may name people). For a cancellation: the receipt it cancels and whether that
    receipt's hash is the one the cancellation signed. `counterpart`: the charge's other receipt row
    (`tracking_code`, `hash`, `signed`), or None."""
    if is_cancellation(receipt):
        cancels = receipt.get("cancels", {})
        return {
            "kind": "cancellation",
            "cancels": {
                "tracking_code": cancels.get("tracking_code"),
                "hash": cancels.get("hash"),
                "matches_stored_receipt": counterpart is not None and counterpart["hash"] == cancels.get("hash"),
            },
        }
    if counterpart is None:
        return {"kind": "receipt", "voided": False, "refunded": False, "voided_by": None}
    cancellation = counterpart["signed"]["receipt"]
    returned_by = cancellation.get("returned_by", "reversal")
    return {
        "kind": "receipt",
        "voided": True,
        "refunded": returned_by == "refund",
        "voided_by": {
            "tracking_code": counterpart["tracking_code"],
            "issued_at": cancellation["issued_at"],
            "reason": cancellation["reason"]["code"],
            "amount_returned": field_value(cancellation, "amount"),
            "returned_by": returned_by,
        },
    }


def check_presented(presented: Mapping[str, Any], stored: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """Is the presented copy (`{"qr_payload": ...}` or `{"receipt": {...}}`) the stored receipt, unaltered?"""
    if isinstance(presented.get("qr_payload"), str):
        scanned = verify_qr_payload(presented["qr_payload"], keyring.verifying)
        # Compared only under a valid signature: an unsigned or forged payload must learn nothing about the stored
        # receipt (its amount, its date) by trying values until one "matches".
        matches = scanned.ok and scanned.content is not None and scanned.content.describes(stored)
        return {
            "kind": "qr_payload",
            "signature": scanned.result.to_dict(),
            "matches_stored_receipt": matches,
            "altered": not (scanned.ok and matches),
        }
    if isinstance(presented.get("receipt"), dict):
        # A copy as GET /v1/receipts answers it carries its unsigned `qr_url` beside the signed parts.
        copy = {key: value for key, value in presented["receipt"].items() if key != "qr_url"}
        result = keyring.verify(copy)
        matches = result.ok and receipt_hash(copy) == receipt_hash(stored)
        return {
            "kind": "receipt",
            "signature": result.to_dict(),
            "matches_stored_receipt": matches,
            "altered": not matches,
        }
    raise NotACopy('Post {"qr_payload": "..."} or {"receipt": {...}} to check a copy.')
