"""A receipt as the citizen's page shows it: whether it exists, whether it is genuine, and what it says."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.core.identifiers import make_tracking_code
from gateway.receipt_book.store import counterpart, get_receipt
from receipts.qr import verify_qr_payload
from receipts.signing import Keyring
from receipts.verification import cancellation_verdict, is_genuine


@dataclass(frozen=True)
class Standing:
    tracking_code: str
    office_id: str
    genuine: bool
    signed: Mapping[str, Any]
    # receipts.verification.cancellation_verdict: for a receipt, whether it was voided and how its money went back;
    # for a cancellation, the receipt it cancels.
    cancellation: Mapping[str, Any]


async def standing_of(db, keyring: Keyring, tracking_code: str) -> Standing | None:
    """None when no receipt has this tracking code."""
    row = await get_receipt(db, tracking_code)
    if row is None:
        return None
    other = await counterpart(db, row["office_id"], row["charge_id"], row["kind"])
    return Standing(
        tracking_code,
        row["office_id"],
        is_genuine(row["signed"], row["hash"], keyring),
        row["signed"],
        cancellation_verdict(row["signed"]["receipt"], other),
    )


@dataclass(frozen=True)
class ScannedStanding:
    signature_ok: bool  # the scanned payload's own signature
    standing: Standing | None  # the stored receipt it names (None: unreadable payload or no such receipt)

    @property
    def genuine(self) -> bool:
        return self.signature_ok and self.standing is not None and self.standing.genuine


async def standing_of_scan(db, keyring: Keyring, scanned: str) -> ScannedStanding:
    """The receipt a scanned QR (payload or URL) names, genuine only when the payload's signature holds, the stored
    receipt is genuine and the payload describes exactly that receipt."""
    checked = verify_qr_payload(scanned, keyring.verifying)
    if checked.content is None:
        return ScannedStanding(False, None)
    code = make_tracking_code(checked.content.office_code, checked.content.seq)
    standing = await standing_of(db, keyring, code)
    if standing is not None and not checked.content.describes(standing.signed):
        standing = dataclasses.replace(standing, genuine=False)
    return ScannedStanding(checked.ok, standing)
