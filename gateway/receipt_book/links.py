"""The links that bring a citizen to a receipt's page: the SMS link and the URL in the printed QR code.

Tracking codes are sequential, so a code alone must not show a receipt's amount, service or the office's volume.
The SMS link adds a secret derived from the tracking code: HMAC-SHA-256 under a key kept beside the receipt-signing
keys, cut to 64 bits (far too many to guess over the network, short enough for a two-part SMS). Nothing is stored
per receipt and the link never changes. The QR URL carries the receipt's signed payload, which is its own proof.
Whoever holds either sees the receipt's details; the code alone tells only whether such a receipt exists and is
genuine.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.platform.kept_secrets import kept_secret
from receipts.canonical import b64url_encode
from receipts.qr import MAX_QR_BASE_URL, make_qr_payload, qr_url
from receipts.signing import Keyring

LINK_KEY_FILE = "receipt-link-key"
_SECRET_BYTES = 8
_DOMAIN = b"pishkhan-receipt-link-v1:"


@dataclass(frozen=True)
class ReceiptLinks:
    public_base_url: str
    key: bytes

    def __post_init__(self) -> None:
        if len(self.public_base_url.rstrip("/")) > MAX_QR_BASE_URL:
            raise ValueError(
                f"PISHKHAN_PUBLIC_BASE_URL is over {MAX_QR_BASE_URL} characters: the receipts' QR codes would be too "
                "dense to print"
            )

    @classmethod
    def kept_in(cls, key_dir: Path, public_base_url: str) -> ReceiptLinks:
        return cls(public_base_url, kept_secret(key_dir, LINK_KEY_FILE))

    def secret(self, tracking_code: str) -> str:
        digest = hmac.new(self.key, _DOMAIN + tracking_code.encode("ascii"), hashlib.sha256).digest()
        return b64url_encode(digest[:_SECRET_BYTES])

    def opens(self, tracking_code: str, secret: str) -> bool:
        """Whether `secret` is the one of this tracking code's link."""
        return hmac.compare_digest(self.secret(tracking_code).encode(), secret.encode("utf-8", "replace"))

    def page(self, tracking_code: str) -> str:
        """The receipt's page with its details: the link the SMS carries."""
        return f"{self.public_base_url.rstrip('/')}/r/{tracking_code}/{self.secret(tracking_code)}"

    def qr_url(self, signed: Mapping[str, Any], keyring: Keyring) -> str:
        """What the printed QR code holds (and a POS client prints on its own printer)."""
        return qr_url(self.public_base_url, make_qr_payload(signed, keyring))
