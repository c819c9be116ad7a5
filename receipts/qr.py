"""The compact signed payload printed as a QR code, verifiable offline with the published keys.

    PK1.<base64url(fields)>.<base64url(signature)>

`fields` is big-endian binary: office code (uint32), seq (uint32), issued_at in whole epoch
seconds (uint32), amount in rials (uint64), the first 16 bytes of the receipt's SHA-256 chain
hash, then the key id in ASCII to the end. The Ed25519 signature covers the ASCII text
`PK1.<base64url(fields)>`, so the version prefix is signed too. With a 15-character key id the
payload is 159 characters: a version 9 QR code at error correction level M, with data mask 2.

Printed forms carry it as a URL that a phone's camera opens, `{public base URL}/q/PK1.…` (the gateway's receipt
page); with a base URL of up to `MAX_QR_BASE_URL` characters the symbol stays at version 10 or less. Verification
accepts the URL or the bare payload.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import segno

from gateway.core.identifiers import MAX_SEQUENCE
from receipts.canonical import b64url_decode, b64url_encode
from receipts.chain import receipt_hash
from receipts.model import field_value, parse_timestamp
from receipts.signing import Keyring, Verdict, VerificationResult, VerifyingKeyring

PREFIX = "PK1"
HASH_PREFIX_BYTES = 16
QR_ERROR_LEVEL = "m"
# Most of the payload is hash and signature bytes, effectively random, so every mask pattern leaves a symbol
# of about the same quality: a fixed one spares scoring all eight on every render.
QR_MASK = 2
_FIXED = struct.Struct(">IIIQ16s")
QR_PATH = "/q/"
MAX_QR_VERSION = 10
# Version 10 at level M holds 213 bytes; a payload with a 15-character key id is 159 and the path 3 more.
MAX_QR_BASE_URL = 213 - 159 - len(QR_PATH)
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class QrContent:
    office_code: str
    seq: int
    issued_at: datetime  # whole seconds
    amount: int
    receipt_hash_prefix: str  # hex of the first 16 bytes of the receipt's chain hash
    key_id: str

    @classmethod
    def of_receipt(cls, signed: Mapping[str, Any]) -> QrContent:
        document = signed["receipt"]
        issued_at = parse_timestamp(document["issued_at"]).replace(microsecond=0)
        return cls(
            office_code=document["office_code"],
            seq=document["seq"],
            issued_at=issued_at,
            amount=field_value(document, "amount"),
            receipt_hash_prefix=receipt_hash(signed)[: HASH_PREFIX_BYTES * 2],
            key_id=document["key_id"],
        )

    def describes(self, signed: Mapping[str, Any]) -> bool:
        """Whether this QR content belongs to that full signed receipt (its hash included)."""
        try:
            return self == QrContent.of_receipt(signed)
        except (KeyError, TypeError, ValueError):
            return False

    def pack(self) -> bytes:
        fixed = _FIXED.pack(
            int(self.office_code),
            self.seq,
            int(self.issued_at.timestamp()),
            self.amount,
            bytes.fromhex(self.receipt_hash_prefix),
        )
        return fixed + self.key_id.encode("ascii")

    @classmethod
    def unpack(cls, data: bytes) -> QrContent:
        if len(data) <= _FIXED.size:
            raise ValueError("QR fields too short")
        office, seq, epoch, amount, hash_prefix = _FIXED.unpack_from(data)
        key_id = data[_FIXED.size :].decode("ascii")
        if office > 99_999_999 or not 1 <= seq <= MAX_SEQUENCE or not key_id.isprintable():
            raise ValueError("QR fields out of range")
        return cls(f"{office:08d}", seq, datetime.fromtimestamp(epoch, UTC), amount, hash_prefix.hex(), key_id)


@dataclass(frozen=True)
class QrVerification:
    result: VerificationResult
    content: QrContent | None  # None when the payload could not be decoded

    @property
    def ok(self) -> bool:
        return self.result.ok


def make_qr_payload(signed: Mapping[str, Any], keyring: Keyring) -> str:
    """The QR text for a signed receipt, signed by the key that signed the receipt."""
    content = QrContent.of_receipt(signed)
    signed_part = f"{PREFIX}.{b64url_encode(content.pack())}"
    signature = keyring.key(content.key_id).sign(signed_part.encode("ascii"))
    return f"{signed_part}.{b64url_encode(signature)}"


def qr_url(public_base_url: str, payload: str) -> str:
    """What the printed QR holds: the receipt page of this payload on the gateway."""
    base = public_base_url.rstrip("/")
    if len(base) > MAX_QR_BASE_URL:
        raise ValueError(f"a public base URL over {MAX_QR_BASE_URL} characters makes the QR code too dense to print")
    return f"{base}{QR_PATH}{payload}"


def bare_payload(scanned: str) -> str:
    """The PK1 payload of a scanned text: the text itself, or what follows /q/ in a receipt page URL."""
    text = scanned.strip()
    _, found, after = text.rpartition(QR_PATH)
    return after.partition("#")[0].partition("?")[0] if found else text


def verify_qr_payload(payload: str, keyring: VerifyingKeyring) -> QrVerification:
    """Check a scanned payload's signature and key validity (the bare payload or its URL); `content` tells what it
    vouches for."""
    try:
        payload = bare_payload(payload)
        signed_part, _, signature_text = payload.rpartition(".")
        prefix, _, fields_text = signed_part.partition(".")
        if prefix != PREFIX:
            raise ValueError(f"not a {PREFIX} payload")
        content = QrContent.unpack(b64url_decode(fields_text))
        signature = b64url_decode(signature_text)
    except (AttributeError, ValueError, struct.error) as exc:
        return QrVerification(VerificationResult(Verdict.MALFORMED, None, False, None, str(exc)), None)
    result = keyring.check(
        content.key_id, signed_part.encode("ascii"), signature, content.issued_at, time_resolution=_ONE_SECOND
    )
    return QrVerification(result, content)


def _symbol(payload: str) -> segno.QRCode:
    return segno.make_qr(payload, error=QR_ERROR_LEVEL, mask=QR_MASK)


def qr_png(payload: str, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    _symbol(payload).save(buffer, kind="png", scale=scale)
    return buffer.getvalue()


def qr_svg(payload: str, scale: int = 4) -> str:
    return _symbol(payload).svg_inline(scale=scale)


def qr_modules(payload: str) -> list[list[bool]]:
    """The QR symbol as rows of dark (True) and light modules, quiet zone included."""
    return [[bool(module) for module in row] for row in _symbol(payload).matrix_iter(border=4)]
