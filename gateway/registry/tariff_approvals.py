"""Signed tariff approvals: the approving bodies' public keys, and the check every approval passes before use.

An approval is signed by a key of its approving body: an Ed25519 signature over the RFC 8785 form of the whole
approval document (the TOML file parsed to JSON), kept in `<file>.sig` beside it. The gateway holds the approvers'
public keys, each with its validity, in one JSON file (`PISHKHAN_APPROVER_KEYS`, entries as in `GET /v1/keys`), and
accepts an approval only when its signature verifies with a key valid on the approval's `approved_on` day.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jdatetime
from rfc8785 import CanonicalizationError

from gateway.core.jalali import day_start_utc, parse_jalali_date
from gateway.core.tariffs import SIGNATURE_KEY, SOURCE_KEY, TariffBook, TariffTableError
from receipts.canonical import b64url_decode, b64url_encode, canonical_bytes
from receipts.signing import ALGORITHM, SigningKey, Verdict, VerifyingKey, VerifyingKeyring

SIGNATURE_SUFFIX = ".sig"


class ApprovalRefused(TariffTableError):
    """An approval whose signature is missing, does not verify, or comes from a key not valid on its approval day."""


def signature_path(approval_path: Path) -> Path:
    return approval_path.with_name(approval_path.name + SIGNATURE_SUFFIX)


# ---------------------------------------------------------------- the approvers' public keys


def read_approver_keys(path: Path) -> VerifyingKeyring:
    """The approvers' public keys; an empty keyring when the file does not exist (every approval is then refused)."""
    if not path.exists():
        return VerifyingKeyring([])
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
        return VerifyingKeyring.from_public_keys(entries)
    except (ValueError, KeyError, TypeError) as error:
        raise TariffTableError(f"{path}: not an approver keys file ({error})") from None


def publish_approver_key(path: Path, key: VerifyingKey) -> None:
    """Adds the key to the approver keys file (created if needed), replacing the file in one rename."""
    entries = [*read_approver_keys(path).public_keys(), key.public_entry()]
    VerifyingKeyring.from_public_keys(entries)  # refuses a duplicate key id
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
    check_approval({**document, SIGNATURE_KEY: signature}, VerifyingKeyring([key.verifying_key]), source)
    return signature


def check_approval(document: Mapping[str, Any], approvers: VerifyingKeyring, source: str) -> None:
    """Raises ApprovalRefused, naming `source` and the reason, unless the document carries a good signature."""
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
        return
    reasons = {
        Verdict.UNKNOWN_KEY: f"signed by key {signature['key_id']!r}, which is not among the approver keys",
        Verdict.ALTERED: "the signature does not match the content: altered after signing, or not signed by this key",
        Verdict.KEY_NOT_VALID_AT_ISSUE: (
            f"key {signature['key_id']!r} was not valid on the approval day {document['approval']['approved_on']}"
        ),
    }
    raise ApprovalRefused(f"{source}: refused: {reasons.get(result.verdict, result.detail)}")


def verified_book(documents: Sequence[Mapping[str, Any]], approvers: VerifyingKeyring) -> TariffBook:
    """The book of `documents`, each carrying SOURCE_KEY and SIGNATURE_KEY, once every signature has verified."""
    for position, document in enumerate(documents, start=1):
        check_approval(document, approvers, str(document.get(SOURCE_KEY, f"document {position}")))
    return TariffBook.from_documents(documents)
