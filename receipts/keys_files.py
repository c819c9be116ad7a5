"""The receipt-signing key directory: `<key_id>.pem` (PKCS#8, mode 0600) and `<key_id>.json` per key.

The JSON file holds the key's id and validity; it is written after the PEM, so a key whose JSON is
missing was never completely created and is not loaded. One pair of files per key means creating a
key never rewrites a file another process may be reading.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from gateway.core.jalali import format_utc
from receipts.model import parse_timestamp
from receipts.signing import ALGORITHM, Keyring, SigningKey

_FILE_MODE = 0o600
_DIR_MODE = 0o700
# Key ids name files, so they stay within a safe file-name alphabet.
_KEY_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600; FileExistsError if it is already there."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _load_key(key_dir: Path, metadata_path: Path) -> SigningKey:
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    key_id = metadata["key_id"]
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"{metadata_path}: bad key id {key_id!r}")
    if metadata.get("algorithm") != ALGORITHM:
        raise ValueError(f"{metadata_path}: unsupported algorithm {metadata.get('algorithm')!r}")
    private_key = load_pem_private_key((key_dir / f"{key_id}.pem").read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{key_dir / key_id}.pem is not an Ed25519 private key")
    valid_to = metadata.get("valid_to")
    return SigningKey(
        key_id=key_id,
        private_key=private_key,
        valid_from=parse_timestamp(metadata["valid_from"]),
        valid_to=None if valid_to is None else parse_timestamp(valid_to),
    )


def load_key_file(pem_path: str | os.PathLike[str]) -> SigningKey:
    """One key from its `<key_id>.pem`, with the `<key_id>.json` beside it."""
    path = Path(pem_path)
    return _load_key(path.parent, path.with_suffix(".json"))


def load_keyring(key_dir: str | os.PathLike[str]) -> Keyring:
    """Every key in the directory; an empty keyring when the directory is empty or absent."""
    directory = Path(key_dir)
    if not directory.is_dir():
        return Keyring([])
    return Keyring(_load_key(directory, path) for path in sorted(directory.glob("*.json")))


def _new_key_id(valid_from: datetime) -> str:
    return f"k-{valid_from.astimezone(UTC):%Y%m%d}-{secrets.token_hex(2)}"


def _store_pem(directory: Path, key_id: str | None, valid_from: datetime, pem: bytes) -> str:
    """Write the PEM under `key_id`, or under a fresh id when none is given; the id used."""
    while True:
        chosen_id = key_id or _new_key_id(valid_from)
        try:
            _write_new(directory / f"{chosen_id}.pem", pem)
        except FileExistsError:
            if key_id is not None:
                raise
            continue
        return chosen_id


def create_key(
    key_dir: str | os.PathLike[str],
    key_id: str | None = None,
    valid_from: datetime | None = None,
) -> SigningKey:
    """Generate a new Ed25519 signing key in the directory (created if needed), valid from `valid_from` (default now).

    Without `key_id` one like `k-20261123-ab12` is chosen. Created with a future `valid_from` next to
    the current key, the new key takes over at that moment in every process that has loaded it.
    """
    if key_id is not None and not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id {key_id!r} must be letters, digits, '.', '_' or '-', not starting with '.'")
    directory = Path(key_dir)
    directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    start = valid_from or datetime.now(UTC)
    if start.utcoffset() is None:
        raise ValueError("valid_from must be timezone-aware")
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    key = SigningKey(_store_pem(directory, key_id, start, pem), private_key, start)
    metadata = {"key_id": key.key_id, "algorithm": ALGORITHM, "valid_from": format_utc(start), "valid_to": None}
    _write_new(directory / f"{key.key_id}.json", json.dumps(metadata, indent=2).encode("utf-8") + b"\n")
    return key
