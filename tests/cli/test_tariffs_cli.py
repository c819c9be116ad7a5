"""The approving body's commands (keygen, sign, verify) and `tariffs load`, which loads all or nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.registry.tariff_approvals import signature_path


def _pishkhan(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PISHKHAN_APPROVER_KEYS": str(settings.approver_keys)}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env, capture_output=True, text=True)


async def _stored(db) -> list[tuple]:
    rows = await db.fetch("SELECT reference, document, signature, loaded_at FROM tariff_approvals ORDER BY reference")
    return [tuple(row) for row in rows]


def _raise_a_cap(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"office_fee_cap = 350_000", "office_fee_cap = 950_000", text, count=1), encoding="utf-8")


def test_an_approving_body_creates_a_key_signs_an_approval_and_anyone_verifies_it(settings, tmp_path):
    keys_file = tmp_path / "approver-keys.json"
    made = _pishkhan(
        settings, "tariffs", "keygen", "--key-dir", str(tmp_path / "private"), "--key-id", "cra-2024",
        "--valid-from", "2024-01-01T00:00:00Z", "--publish", str(keys_file),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert [k["key_id"] for k in json.loads(keys_file.read_text())["keys"]] == ["cra-2024"]
    approval = tmp_path / "1403.toml"
    shutil.copyfile(settings.tariff_dir / "1403-sample.toml", approval)

    signed = _pishkhan(settings, "tariffs", "sign", str(approval), "--key", str(tmp_path / "private" / "cra-2024.pem"))
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signature_path(approval).read_text())["key_id"] == "cra-2024"
    checked = _pishkhan(settings, "tariffs", "verify", str(approval), "--keys", str(keys_file))
    assert checked.returncode == 0 and "genuine and unaltered" in checked.stdout

    _raise_a_cap(approval)
    altered = _pishkhan(settings, "tariffs", "verify", str(approval), "--keys", str(keys_file))
    assert altered.returncode == 1 and "does not match the content" in altered.stderr


def test_a_key_cannot_sign_an_approval_made_before_it_was_valid(settings, tmp_path):
    made = _pishkhan(
        settings, "tariffs", "keygen", "--key-dir", str(tmp_path), "--key-id", "late",
        "--valid-from", "2030-01-01T00:00:00Z",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    approval = tmp_path / "1403.toml"
    shutil.copyfile(settings.tariff_dir / "1403-sample.toml", approval)
    refused = _pishkhan(settings, "tariffs", "sign", str(approval), "--key", str(tmp_path / "late.pem"))
    assert refused.returncode != 0 and "not valid on the approval day 1402/12/20" in refused.stderr
    assert not signature_path(approval).exists()


def _spoil_unsigned(directory: Path) -> None:
    signature_path(directory / "1403-sample.toml").unlink()


def _spoil_altered(directory: Path) -> None:
    _raise_a_cap(directory / "1403-sample.toml")


def _spoil_unknown_key(directory: Path) -> None:
    sig = signature_path(directory / "1403-sample.toml")
    sig.write_text(json.dumps({**json.loads(sig.read_text()), "key_id": "someone-else"}))


def _spoil_retired_key(directory: Path, keys_file: Path) -> None:
    keys = json.loads(keys_file.read_text())
    keys["keys"][0]["valid_to"] = "2023-06-01T00:00:00Z"  # after the 1402 approval's day, before the 1403 one's
    keys_file.write_text(json.dumps(keys))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_spoil_unsigned, "1403-sample.toml: unsigned"),
        (_spoil_altered, "1403-sample.toml: refused: the signature does not match the content"),
        (_spoil_unknown_key, "1403-sample.toml: refused: signed by key 'someone-else', which is not among"),
        ("retired", "1403-sample.toml: refused: key 'SAMPLE-demo-approver' was not valid on the approval day"),
    ],
    ids=["unsigned", "altered-cap", "unknown-key", "key-outside-validity"],
)
async def test_load_refuses_a_bad_approval_and_changes_nothing(settings, db, tmp_path, spoil, message):
    directory = tmp_path / "approvals"
    shutil.copytree(settings.tariff_dir, directory)
    keys_file = tmp_path / "approver-keys.json"
    shutil.copyfile(settings.approver_keys, keys_file)
    if spoil == "retired":
        _spoil_retired_key(directory, keys_file)
    else:
        spoil(directory)
    before = await _stored(db)

    refused = _pishkhan(settings, "tariffs", "load", str(directory), "--keys", str(keys_file))

    assert refused.returncode != 0
    assert refused.stderr.startswith("nothing loaded: ") and message in refused.stderr
    assert await _stored(db) == before


async def test_load_takes_the_signed_approvals(settings, db):
    loaded = _pishkhan(settings, "tariffs", "load", str(settings.tariff_dir))
    assert loaded.returncode == 0, loaded.stderr
    assert "2 signed tariff approvals loaded" in loaded.stdout
    assert all(row[2] is not None for row in await _stored(db))
