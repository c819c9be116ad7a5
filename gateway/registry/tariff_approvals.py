"""Signed tariff approvals: the approving bodies' public keys, and the check every approval passes before use.

An approval is signed by a key of its approving body: an Ed25519 signature over the RFC 8785 form of the whole
approval document (the TOML file parsed to JSON), kept in `<file>.sig` beside it. The gateway holds the approvers'
public keys, each with its validity and the approving body it belongs to, in one JSON file
(`PISHKHAN_APPROVER_KEYS`, entries as in `GET /v1/keys` plus `approving_body`), and accepts an approval only when its
signature verifies with a key of the body the approval names, valid on the approval's `approved_on` day.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jdatetime
from rfc8785 import CanonicalizationError

from gateway.core.jalali import day_start_utc, parse_jalali_date
from gateway.core.tariffs import SIGNATURE_KEY, SOURCE_KEY, TariffBook, TariffTableError
from gateway.core.text import normalize_persian
from receipts.canonical import b64url_decode, b64url_encode, canonical_bytes
from receipts.signing import ALGORITHM, SigningKey, Verdict, VerifyingKey, VerifyingKeyring

SIGNATURE_SUFFIX = ".sig"


class ApprovalRefused(TariffTableError):
    """An approval whose signature is missing, does not verify, or comes from a key not valid on its approval day."""


def signature_path(approval_path: Path) -> Path:
    return approval_path.with_name(approval_path.name + SIGNATURE_SUFFIX)


# ---------------------------------------------------------------- the approvers' public keys


@dataclass(frozen=True)
class ApproverKeys:
    """The approving bodies' public keys, and which body each key belongs to."""

    keyring: VerifyingKeyring
    bodies: Mapping[str, str]  # key id → approving body

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any]]) -> ApproverKeys:
        """From `GET /v1/tariffs/keys` entries: a public key entry with its `approving_body`."""
        entries = list(entries)
        bodies = {}
        for entry in entries:
            body = entry.get("approving_body")
            if not isinstance(body, str) or not body.strip():
                raise ValueError(f"key {entry.get('key_id')!r} names no approving_body")
            bodies[entry["key_id"]] = normalize_persian(body)
        return cls(VerifyingKeyring.from_public_keys(entries), bodies)

    def public_keys(self) -> list[dict[str, Any]]:
        """The `GET /v1/tariffs/keys` list, oldest key first."""
        return [{**entry, "approving_body": self.bodies[entry["key_id"]]} for entry in self.keyring.public_keys()]


NO_APPROVER_KEYS = ApproverKeys(VerifyingKeyring([]), {})


def read_approver_keys(path: Path) -> ApproverKeys:
    """The approvers' public keys from an approver keys file (`{"keys": [...]}`) or a saved `GET /v1/tariffs/keys`
    answer (`{"data": [...]}`); none when the file does not exist (every approval is then refused)."""
    if not path.exists():
        return NO_APPROVER_KEYS
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return ApproverKeys.from_entries(document["keys"] if "keys" in document else document["data"])
    except (ValueError, KeyError, TypeError) as error:
        raise TariffTableError(f"{path}: not an approver keys file ({error})") from None


def publish_approver_key(path: Path, key: VerifyingKey, approving_body: str) -> None:
    """Adds the key of `approving_body` to the approver keys file (created if needed), replacing it in one rename."""
    entries = [*read_approver_keys(path).public_keys(), {**key.public_entry(), "approving_body": approving_body}]
    ApproverKeys.from_entries(entries)  # refuses a duplicate key id or an empty body
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as file:
        json.dump({"keys": entries}, file, indent=2)
        file.write("\n")
    os.chmod(file.name, 0o644)  # public keys: readable by the gateway's user
    os.replace(file.name, path)


# ---------------------------------------------------------------- signing and checking one approval


def _content(document: Mapping[str, Any]) -> dict[str, Any]:
    """What is signed: the document without what the loader attached to it."""
    return {key: value for key, value in document.items() if key not in (SOURCE_KEY, SIGNATURE_KEY)}


def _approval_day(document: Mapping[str, Any], source: str) -> jdatetime.date:
    header = document.get("approval")
    try:
        return parse_jalali_date(header["approved_on"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        raise ApprovalRefused(f"{source}: approval.approved_on is missing or not a Jalali day") from None


def sign_approval(document: Mapping[str, Any], key: SigningKey, source: str) -> dict[str, str]:
    """The signature entry for `document`; refused if the key is not valid on the approval day."""
    signature = {
        "algorithm": ALGORITHM,
        "key_id": key.key_id,
        "signature": b64url_encode(key.sign(canonical_bytes(_content(document)))),
    }
    _check_signature({**document, SIGNATURE_KEY: signature}, VerifyingKeyring([key.verifying_key]), source)
    return signature


def check_approval(document: Mapping[str, Any], approvers: ApproverKeys, source: str) -> None:
    """Raises ApprovalRefused, naming `source` and the reason, unless the document carries a good signature by a key
    of the approving body it names."""
    key_id = _check_signature(document, approvers.keyring, source)
    named = normalize_persian(str(document["approval"].get("approving_body", "")))
    if approvers.bodies[key_id] != named:
        raise ApprovalRefused(
            f"{source}: refused: key {key_id!r} belongs to {approvers.bodies[key_id]}, "
            f"not to the approving body the approval names ({named or 'none'})"
        )


def _check_signature(document: Mapping[str, Any], approvers: VerifyingKeyring, source: str) -> str:
    """The id of the key whose signature the document carries, once the signature and the key's validity check out."""
    signature = document.get(SIGNATURE_KEY)
    if signature is None:
        raise ApprovalRefused(f"{source}: unsigned: no signature of the approving body ({source}{SIGNATURE_SUFFIX})")
    if (
        not isinstance(signature, Mapping)
        or set(signature) != {"algorithm", "key_id", "signature"}
        or signature["algorithm"] != ALGORITHM
        or not isinstance(signature["key_id"], str)
    ):
        raise ApprovalRefused(
            f"{source}: the signature is not an {ALGORITHM} signature entry (algorithm, key_id, signature)"
        )
    day = _approval_day(document, source)
    try:
        message = canonical_bytes(_content(document))
        signature_bytes = b64url_decode(signature["signature"])
    except (ValueError, CanonicalizationError) as error:
        raise ApprovalRefused(f"{source}: the signature cannot be checked: {error}") from None
    starts = day_start_utc(day)
    result = approvers.check(
        signature["key_id"], message, signature_bytes, starts, day_start_utc(day + jdatetime.timedelta(days=1)) - starts
    )
    if result.verdict is Verdict.VALID:
        return signature["key_id"]
    reasons = {
        Verdict.UNKNOWN_KEY: f"signed by key {signature['key_id']!r}, which is not among the approver keys",
        Verdict.ALTERED: "the signature does not match the content: altered after signing, or not signed by this key",
        Verdict.KEY_NOT_VALID_AT_ISSUE: (
            f"key {signature['key_id']!r} was not valid on the approval day {document['approval']['approved_on']}"
        ),
    }
    raise ApprovalRefused(f"{source}: refused: {reasons.get(result.verdict, result.detail)}")


def verified_book(documents: Sequence[Mapping[str, Any]], approvers: ApproverKeys) -> TariffBook:
    """The book of `documents`, each carrying SOURCE_KEY and SIGNATURE_KEY, once every signature has verified."""
    for position, document in enumerate(documents, start=1):
        check_approval(document, approvers, str(document.get(SOURCE_KEY, f"document {position}")))
    return TariffBook.from_documents(documents)
