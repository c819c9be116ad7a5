"""`pishkhan check-conservation` as operations run it: against the simulators' control APIs or a PSP transaction
file, with exit code 0 only when every amount is accounted for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import orjson

from gateway.charging.store import get_charge
from gateway.conservation.check import default_control_urls
from gateway.platform.config import PROJECT_ROOT
from tests.money_safety.support import new_body, now


def run_check(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-conservation", *args],
        env={**os.environ, "DATABASE_URL": database_url, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def controls(psp_hosts) -> str:
    return ",".join(f"{psp}={host.control_url}" for psp, host in psp_hosts.items())


async def test_clean_books_exit_0_and_a_receipt_whose_money_was_reversed_exits_1(
    gateway, keys, sims, db, psp_hosts, database_url, tmp_path
):
    since = now().isoformat()
    key = await keys("t:10000001")
    for _ in range(2):
        status, charge = await gateway.charge(key, new_body("10000001"))
        assert status == 201

    clean = run_check(database_url, "--since", since, PISHKHAN_PSP_CONTROL=controls(psp_hosts))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.strip().splitlines()[-1].startswith("clean")

    # After the receipt was issued, the money goes back to the cardholder behind the gateway's back.
    stored = await get_charge(db, uuid.UUID(charge["id"]))
    reversal = await gateway.services.psps.adapter("psp-mellat").reverse(stored.txn_ref())
    assert reversal.outcome == "approved"

    broken = run_check(database_url, "--psp-control", controls(psp_hosts), "--since", since, "--json")
    assert broken.returncode == 1, broken.stderr
    report = json.loads(broken.stdout)
    assert [(d["kind"], d["charge_id"]) for d in report["differences"]] == [("receipt_without_money", charge["id"])]

    # The same finding from a PSP transaction file, as after an incident.
    path = tmp_path / "mellat.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in await sims["psp-mellat"].ledger()))
    from_file = run_check(database_url, "--transactions", f"psp-mellat={path}", "--since", since)
    assert from_file.returncode == 1
    assert f"receipt_without_money  psp-mellat  charge {charge['id']}" in from_file.stdout


async def test_by_default_each_simulator_is_asked_one_port_above_its_psp_port(db):
    urls = await default_control_urls(db, {"psp-mellat": ("127.0.0.1", 41000)})
    assert urls["psp-mellat"] == "http://127.0.0.1:41001"
    assert urls["psp-sadad"] == "http://127.0.0.1:17302"  # the demo registry's own endpoint


def test_an_unreadable_ledger_exits_2(database_url, db, tmp_path):
    unreachable = run_check(database_url, "--psp-control", "psp-mellat=http://127.0.0.1:9")
    missing = run_check(database_url, "--transactions", f"psp-mellat={tmp_path / 'absent.jsonl'}")
    assert (unreachable.returncode, missing.returncode) == (2, 2)
    assert "check-conservation:" in unreachable.stderr and "absent.jsonl" in missing.stderr
