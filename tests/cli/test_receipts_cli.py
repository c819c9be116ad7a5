"""The auditor's commands: export an office's receipts, verify the export offline, verify a QR payload."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from receipts.qr import make_qr_payload
from tests.stack import charge_body


def _pishkhan(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PISHKHAN_KEY_DIR": str(settings.key_dir)}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env, capture_output=True, text=True)


async def test_export_then_offline_verification_names_the_first_break(gateway, keys, settings, tmp_path):
    key = await keys("t:10000006")
    for _ in range(4):
        status, _ = await gateway.charge(key, charge_body(terminal_id="10000006", operator_id="op-51", amount=500_000))
        assert status == 201
    export = tmp_path / "office.jsonl"
    done = _pishkhan(
        settings,
        "receipts",
        "export",
        "--office",
        "51110005",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        "2100-01-01T00:00:00Z",
        "--output",
        str(export),
    )
    assert done.returncode == 0, done.stderr
    lines = export.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 4
    _, published = await gateway.request("GET", "/v1/keys")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(published))
    assert _pishkhan(settings, "receipts", "verify", str(export), "--keys", str(keys_file)).returncode == 0

    deleted = tmp_path / "deleted.jsonl"
    deleted.write_text("\n".join(lines[:1] + lines[2:]) + "\n", encoding="utf-8")
    result = _pishkhan(settings, "receipts", "verify", str(deleted), "--keys", str(keys_file))
    assert result.returncode == 1
    assert json.loads(result.stdout)["first_break"]["seq"] == json.loads(lines[2])["receipt"]["seq"]

    altered = tmp_path / "altered.jsonl"
    tampered = json.loads(lines[1])
    tampered["receipt"]["tariff_reference"] = "forged"
    altered.write_text(
        "\n".join([lines[0], json.dumps(tampered, ensure_ascii=False), *lines[2:]]) + "\n", encoding="utf-8"
    )
    result = _pishkhan(settings, "receipts", "verify", str(altered), "--keys", str(keys_file))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["first_break"]["seq"] == tampered["receipt"]["seq"]
    assert report["first_break"]["kind"] == "altered"


async def test_a_qr_payload_verifies_offline_with_the_public_keys(gateway, keys, settings, tmp_path):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body())
    assert status == 201
    _, published = await gateway.request("GET", "/v1/keys")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(published))
    payload = make_qr_payload(charge["receipt"], gateway.services.keyring)
    good = _pishkhan(settings, "receipts", "verify-qr", payload, "--keys", str(keys_file))
    assert good.returncode == 0 and json.loads(good.stdout)["content"]["amount"] == charge["amount"]
    bad = _pishkhan(settings, "receipts", "verify-qr", payload[:-3] + "AAA", "--keys", str(keys_file))
    assert bad.returncode == 1
    assert charge["qr_url"].endswith("/q/" + payload)
    scanned_url = _pishkhan(settings, "receipts", "verify-qr", charge["qr_url"], "--keys", str(keys_file))
    assert scanned_url.returncode == 0
    assert json.loads(scanned_url.stdout)["content"]["seq"] == charge["receipt"]["receipt"]["seq"]


async def test_offline_verification_covers_cancellation_receipts(gateway, keys, settings, tmp_path):
    key = await keys("t:10000001")
    status, charge = await gateway.charge(key, charge_body(terminal_id="10000001", operator_id="op-11"))
    assert status == 201
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/void",
        key=key,
        json={"reason": "duplicate_payment", "reason_text": "پرداخت دو بار انجام شد"},
        headers={"Idempotency-Key": f"cli-{charge['id']}"},
    )
    assert status == 201, void
    status, _ = await gateway.charge(key, charge_body(terminal_id="10000001", operator_id="op-11"))
    assert status == 201
    export = tmp_path / "office.jsonl"
    window = ("--from", "2020-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z")
    done = _pishkhan(settings, "receipts", "export", "--office", "11110001", *window, "--output", str(export))
    assert done.returncode == 0, done.stderr
    _, published = await gateway.request("GET", "/v1/keys")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(published))

    result = _pishkhan(settings, "receipts", "verify", str(export), "--keys", str(keys_file))
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["voided"][charge["tracking_code"]] == void["cancellation_tracking_code"]

    lines = export.read_text(encoding="utf-8").splitlines()
    position = next(i for i, line in enumerate(lines) if void["cancellation_tracking_code"] in line)
    without = tmp_path / "without-cancellation.jsonl"
    without.write_text("\n".join(lines[:position] + lines[position + 1 :]) + "\n", encoding="utf-8")
    result = _pishkhan(settings, "receipts", "verify", str(without), "--keys", str(keys_file))
    assert result.returncode == 1
    assert json.loads(result.stdout)["first_break"]["kind"] == "seq_gap"

    altered = json.loads(lines[position])
    altered["receipt"]["cancels"]["hash"] = "0" * 64
    forged = tmp_path / "altered-cancellation.jsonl"
    forged.write_text(
        "\n".join([*lines[:position], json.dumps(altered, ensure_ascii=False), *lines[position + 1 :]]) + "\n",
        encoding="utf-8",
    )
    result = _pishkhan(settings, "receipts", "verify", str(forged), "--keys", str(keys_file))
    assert result.returncode == 1
    assert {f["kind"] for f in json.loads(result.stdout)["findings"]} >= {"altered", "cancels_mismatch"}
