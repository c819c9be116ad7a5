from __future__ import annotations

import json
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from receipts.chain import issue_receipt
from receipts.keys_files import create_key, load_keyring
from tests.receipts.factory import receipt_input

NOV_23 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_created_key_is_stored_privately_and_loads_back(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"

    key = create_key(key_dir, valid_from=NOV_23)

    assert re.fullmatch(r"k-20261123-[0-9a-f]{4}", key.key_id)
    pem, metadata = key_dir / f"{key.key_id}.pem", key_dir / f"{key.key_id}.json"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert stat.S_IMODE(metadata.stat().st_mode) == 0o600
    assert pem.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert json.loads(metadata.read_text()) == {
        "key_id": key.key_id,
        "algorithm": "Ed25519",
        "valid_from": "2026-11-23T08:00:00Z",
        "valid_to": None,
    }

    loaded = load_keyring(key_dir)
    assert len(loaded) == 1
    signed = issue_receipt(receipt_input(issued_at=NOV_23 + timedelta(minutes=15)), loaded).signed
    assert signed["receipt"]["key_id"] == key.key_id
    assert loaded.public_keys() == [key.verifying_key.public_entry()]


def test_a_second_key_with_a_later_start_takes_over_then(tmp_path: Path) -> None:
    first = create_key(tmp_path, key_id="k-20261123-aaaa", valid_from=NOV_23)
    second = create_key(tmp_path, key_id="k-20261201-bbbb", valid_from=NOV_23 + timedelta(days=8))

    keyring = load_keyring(tmp_path)

    assert keyring.signer_at(NOV_23 + timedelta(days=1)).key_id == first.key_id
    assert keyring.signer_at(NOV_23 + timedelta(days=9)).key_id == second.key_id
    assert [entry["key_id"] for entry in keyring.public_keys()] == [first.key_id, second.key_id]


def test_an_existing_key_id_is_never_overwritten(tmp_path: Path) -> None:
    create_key(tmp_path, key_id="k-20261123-aaaa", valid_from=NOV_23)
    before = (tmp_path / "k-20261123-aaaa.pem").read_bytes()

    with pytest.raises(FileExistsError):
        create_key(tmp_path, key_id="k-20261123-aaaa", valid_from=NOV_23)
    assert (tmp_path / "k-20261123-aaaa.pem").read_bytes() == before


@pytest.mark.parametrize("key_id", ["../escape", ".hidden", "k/1", "k 1", ""])
def test_key_ids_must_be_safe_file_names(tmp_path: Path, key_id: str) -> None:
    with pytest.raises(ValueError):
        create_key(tmp_path, key_id=key_id)
    assert list(tmp_path.iterdir()) == []


def test_a_key_without_metadata_was_never_finished_and_is_not_loaded(tmp_path: Path) -> None:
    key = create_key(tmp_path, valid_from=NOV_23)
    (tmp_path / f"{key.key_id}.json").unlink()

    assert len(load_keyring(tmp_path)) == 0


def test_a_missing_directory_is_an_empty_keyring(tmp_path: Path) -> None:
    assert len(load_keyring(tmp_path / "absent")) == 0
