"""Charges in flight on a live stack are counted apart from differences: `pishkhan check-conservation` exits 0 when
they are the only open items, and says how many there are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from gateway.conservation.check import Difference, Report, compare, split_in_flight
from gateway.platform.config import PROJECT_ROOT
from tests.conservation.test_compare import T0, charge, entry
from tests.stack import charge_body


def _split(ledger, charges, now, begun_during=()):
    differences, in_flight = split_in_flight(compare({"psp-mellat": ledger}, charges), charges, now, begun_during)
    return [(d.kind, d.charge_id) for d in differences], [(d.kind, d.charge_id) for d in in_flight]


def test_a_pending_charge_before_its_deadline_is_in_flight():
    ledger = [entry("c1", "pending"), entry("c2", "verified"), entry("c3")]
    charges = [charge("c1", "sent"), charge("c2", "verified"), charge("c3")]

    differences, in_flight = _split(ledger, charges, now=T0 + timedelta(minutes=1))

    assert differences == []
    assert sorted(in_flight) == [
        ("money_without_receipt", "c2"),
        ("unresolved_at_psp", "c1"),
        ("unresolved_charge", "c1"),
        ("unresolved_charge", "c2"),
    ]


def test_past_the_psp_deadline_a_pending_charge_is_a_difference():
    ledger = [entry("c1", "approved")]
    charges = [charge("c1", "authorized")]

    differences, in_flight = _split(ledger, charges, now=T0 + timedelta(minutes=20))

    assert differences == [("unresolved_at_psp", "c1"), ("unresolved_charge", "c1")] and in_flight == []


def test_in_flight_never_hides_money_held_twice_or_a_wrong_amount():
    ledger = [entry("c1", "verified", stan="000101"), entry("c1", "verified", stan="000102", amount=1)]
    charges = [charge("c1", "verified")]

    differences, in_flight = _split(ledger, charges, now=T0)

    assert ("charged_twice", "c1") in differences and ("amount_mismatch", "c1") in differences
    assert ("money_without_receipt", "c1") in in_flight


def test_a_charge_begun_during_the_check_is_in_flight_whatever_it_shows():
    # Read after the ledger: completed by now, still approved when its PSP's ledger was read.
    ledger = [entry("c1", "approved")]
    charges = [charge("c1")]

    differences, in_flight = _split(ledger, charges, now=T0, begun_during={"c1"})

    assert differences == [] and sorted(in_flight) == [("receipt_without_money", "c1"), ("unresolved_at_psp", "c1")]


def test_the_report_counts_charges_in_flight_apart():
    flying = [Difference("unresolved_charge", "psp-mellat", "c1", "sent here")]
    report = Report([], {"psp-mellat": 1}, 1, flying)

    assert report.clean and report.in_flight_charges == ["c1"]
    assert "1 charges in flight" in report.text()
    assert report.as_dict()["in_flight_charges"] == ["c1"]


async def test_a_live_stack_with_a_charge_in_flight_checks_clean_and_says_so(
    gateway, keys, sims, psp_hosts, database_url
):
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    # The cardholder never finishes: the charge stays pending until the PSP's deadline is near.
    await sims["psp-mellat"].script("10000004", "no_answer")
    status, pending = await gateway.charge(
        await keys("t:10000004"), charge_body(terminal_id="10000004", operator_id="op-31")
    )
    assert status == 202, pending
    status, completed = await gateway.charge(await keys("t:10000001"), charge_body())
    assert status == 201, completed

    controls = ",".join(f"{psp}={host.control_url}" for psp, host in psp_hosts.items())
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-conservation", "--since", since, "--json"],
        env={**os.environ, "DATABASE_URL": database_url, "PISHKHAN_PSP_CONTROL": controls},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["clean"] and report["differences"] == []
    assert report["in_flight_charges"] == [pending["id"]]
    assert {item["kind"] for item in report["in_flight"]} >= {"unresolved_charge", "unresolved_at_psp"}
