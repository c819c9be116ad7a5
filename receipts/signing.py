"""Ed25519 receipt signatures, the signing keyring and the public keyring that verifies offline.

A receipt is signed by the key valid at its `issued_at`. Keys overlap during a rotation: the key
with the newest `valid_from` signs, the older one stays published so the receipts it signed keep
verifying. The public keyring is built from `GET /v1/keys` alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from rfc8785 import CanonicalizationError

from gateway.core.jalali import format_utc
from receipts.canonical import b64url_decode, b64url_encode, canonical_bytes
from receipts.model import parse_timestamp

ALGORITHM = "Ed25519"
RECEIPT_TIME_RESOLUTION = timedelta(microseconds=1)


class NoSigningKeyError(LookupError):
    """No key in the keyring is valid at the moment a receipt is issued."""


def _check_validity(key_id: str, valid_from: datetime, valid_to: datetime | None) -> None:
    if not isinstance(key_id, str) or not key_id or not key_id.isascii() or not key_id.isprintable():
        raise ValueError(f"key id {key_id!r} must be non-empty printable ASCII")
    if valid_from.utcoffset() is None or (valid_to is not None and valid_to.utcoffset() is None):
        raise ValueError(f"key {key_id}: validity bounds must be timezone-aware")
    if valid_to is not None and valid_to <= valid_from:
        raise ValueError(f"key {key_id}: valid_to must come after valid_from")


def _valid_during(valid_from: datetime, valid_to: datetime | None, start: datetime, end: datetime) -> bool:
    """Whether [valid_from, valid_to) meets the instant range [start, end)."""
    return valid_from < end and (valid_to is None or start < valid_to)


@dataclass(frozen=True)
class VerifyingKey:
    key_id: str
    public_key: Ed25519PublicKey
    valid_from: datetime
    valid_to: datetime | None = None

    def __post_init__(self) -> None:
        _check_validity(self.key_id, self.valid_from, self.valid_to)

    def valid_during(self, start: datetime, end: datetime) -> bool:
        return _valid_during(self.valid_from, self.valid_to, start, end)

    def public_entry(self) -> dict[str, Any]:
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "public_key": b64url_encode(raw),
            "valid_from": format_utc(self.valid_from),
            "valid_to": None if self.valid_to is None else format_utc(self.valid_to),
        }

    @classmethod
    def from_public_entry(cls, entry: Mapping[str, Any]) -> VerifyingKey:
        if entry.get("algorithm") != ALGORITHM:
            raise ValueError(f"key {entry.get('key_id')!r}: unsupported algorithm {entry.get('algorithm')!r}")
        valid_to = entry.get("valid_to")
        return cls(
            key_id=entry["key_id"],
            public_key=Ed25519PublicKey.from_public_bytes(b64url_decode(entry["public_key"])),
            valid_from=parse_timestamp(entry["valid_from"]),
            valid_to=None if valid_to is None else parse_timestamp(valid_to),
        )


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private_key: Ed25519PrivateKey = field(repr=False)
    valid_from: datetime
    valid_to: datetime | None = None

    def __post_init__(self) -> None:
        _check_validity(self.key_id, self.valid_from, self.valid_to)

    def covers(self, moment: datetime) -> bool:
        return _valid_during(self.valid_from, self.valid_to, moment, moment + RECEIPT_TIME_RESOLUTION)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @cached_property
    def verifying_key(self) -> VerifyingKey:
        return VerifyingKey(self.key_id, self.private_key.public_key(), self.valid_from, self.valid_to)


class Verdict(StrEnum):
    VALID = "valid"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    ALTERED = "altered"
    KEY_NOT_VALID_AT_ISSUE = "key_not_valid_at_issue"


@dataclass(frozen=True)
class VerificationResult:
    verdict: Verdict
    key_id: str | None
    signature_valid: bool
    # None when the key is unknown or the document does not say when it was issued.
    key_valid_at_issue: bool | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "verdict": self.verdict.value,
            "key_id": self.key_id,
            "signature_valid": self.signature_valid,
            "key_valid_at_issue": self.key_valid_at_issue,
            "detail": self.detail,
        }


def _malformed(detail: str, key_id: str | None = None) -> VerificationResult:
    return VerificationResult(Verdict.MALFORMED, key_id, False, None, detail)


class VerifyingKeyring:
    """Public keys by id: verifies receipts and QR payloads with nothing but the published key list."""

    def __init__(self, keys: Iterable[VerifyingKey]) -> None:
        self._keys: dict[str, VerifyingKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ValueError(f"duplicate key id {key.key_id}")
            self._keys[key.key_id] = key

    @classmethod
    def from_public_keys(cls, entries: Iterable[Mapping[str, Any]]) -> VerifyingKeyring:
        return cls(VerifyingKey.from_public_entry(entry) for entry in entries)

    def public_keys(self) -> list[dict[str, Any]]:
        """The `GET /v1/keys` list, oldest key first."""
        ordered = sorted(self._keys.values(), key=lambda key: (key.valid_from, key.key_id))
        return [key.public_entry() for key in ordered]

    def check(
        self,
        key_id: str,
        message: bytes,
        signature: bytes,
        issued_at: datetime,
        time_resolution: timedelta = RECEIPT_TIME_RESOLUTION,
    ) -> VerificationResult:
        """Verify `signature` over `message` by `key_id`, and that the key was valid at `issued_at`.

        `time_resolution` is how precisely `issued_at` is known: a time truncated to whole seconds
        counts as valid if the key was valid at any moment of that second.
        """
        key = self._keys.get(key_id)
        if key is None:
            return VerificationResult(Verdict.UNKNOWN_KEY, key_id, False, None, f"no published key has id {key_id!r}")
        valid_at_issue = key.valid_during(issued_at, issued_at + time_resolution)
        try:
            key.public_key.verify(signature, message)
        except InvalidSignature:
            return VerificationResult(
                Verdict.ALTERED,
                key_id,
                False,
                valid_at_issue,
                "the signature does not match the content: it was altered or not signed by this key",
            )
        if not valid_at_issue:
            return VerificationResult(
                Verdict.KEY_NOT_VALID_AT_ISSUE,
                key_id,
                True,
                False,
                f"key {key_id} was not valid at {format_utc(issued_at)}",
            )
        return VerificationResult(Verdict.VALID, key_id, True, True, "genuine and unaltered")

    def verify(self, signed: Any) -> VerificationResult:
        """Check a signed receipt `{"receipt": {...}, "signature": "..."}`."""
        if not isinstance(signed, Mapping) or set(signed) != {"receipt", "signature"}:
            return _malformed("a signed receipt is an object with exactly `receipt` and `signature`")
        document = signed["receipt"]
        if not isinstance(document, Mapping):
            return _malformed("`receipt` must be an object")
        key_id = document.get("key_id")
        if not isinstance(key_id, str):
            return _malformed("the receipt names no signing key")
        try:
            issued_at = parse_timestamp(document.get("issued_at"))
            signature = b64url_decode(signed["signature"])
            message = canonical_bytes(document)
        except (ValueError, CanonicalizationError) as exc:
            return _malformed(str(exc), key_id)
        return self.check(key_id, message, signature, issued_at)


class Keyring:
    """The gateway's signing keys, each valid for a period; see the module docstring for rotation."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        # Newest valid_from first, so the first key covering a moment is the one that signs.
        self._keys = sorted(keys, key=lambda key: key.valid_from, reverse=True)
        self._by_id = {key.key_id: key for key in self._keys}
        self.verifying = VerifyingKeyring(key.verifying_key for key in self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, key_id: str) -> SigningKey:
        """The key with this id; KeyError if there is none."""
        return self._by_id[key_id]

    def signer_at(self, moment: datetime) -> SigningKey:
        for key in self._keys:
            if key.covers(moment):
                return key
        raise NoSigningKeyError(f"no signing key is valid at {format_utc(moment)}")

    def sign(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """Sign an unsigned receipt document with the key valid at its `issued_at`; the key's id goes inside."""
        key = self.signer_at(parse_timestamp(document["issued_at"]))
        body = {**document, "key_id": key.key_id}
        return {"receipt": body, "signature": b64url_encode(key.sign(canonical_bytes(body)))}

    def public_keys(self) -> list[dict[str, Any]]:
        return self.verifying.public_keys()

    def verify(self, signed: Any) -> VerificationResult:
        return self.verifying.verify(signed)
