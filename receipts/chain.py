"""Each office's receipts form a hash chain: every receipt carries the hash of the one before it.

The first receipt of an office (seq 1) carries the office's genesis hash, so a chain cannot be
restarted or spliced from another office. Deleting, inserting, reordering or altering a receipt
breaks a link that `receipts.audit.verify_chain` reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receipts.canonical import canonical_bytes, sha256_hex
from receipts.model import ReceiptInput, ReceiptInputError, build_receipt
from receipts.signing import Keyring

GENESIS_DOMAIN = b"pishkhan-receipt-chain-v1:"


def genesis_hash(office_code: str) -> str:
    """The `prev_hash` of an office's first receipt."""
    return sha256_hex(GENESIS_DOMAIN + office_code.encode("ascii"))


def receipt_hash(signed: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical bytes of the whole signed receipt (document and signature)."""
    return sha256_hex(canonical_bytes(signed))


@dataclass(frozen=True)
class IssuedReceipt:
    signed: dict[str, Any]
    # What the office's next receipt carries as prev_hash.
    hash: str


def issue_receipt(inp: ReceiptInput, keyring: Keyring) -> IssuedReceipt:
    """Build, sign and hash the receipt for `inp`, the office's next link after `inp.prev_hash`."""
    if inp.seq == 1 and inp.prev_hash != genesis_hash(inp.office_code):
        raise ReceiptInputError("prev_hash", "an office's first receipt must carry the office's genesis hash")
    signed = keyring.sign(build_receipt(inp))
    return IssuedReceipt(signed, receipt_hash(signed))
