"""A short run of the benchmark harness end to end: its own embedded servers, simulators and gateway processes,
tiny counts. It checks that every phase produced figures, that the run left nothing pending, that oversight
found no split charging in traffic where every charge is for a different citizen, and that the conservation check
found it clean; the figures themselves belong in the benchmark report, not here.

The run takes a minute or two (the two-host phase waits for recovery to resolve what the killed host left); the
timeout leaves room for a machine busy with other work."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import orjson
import pytest

from gateway.platform.config import PROJECT_ROOT


@pytest.fixture
def var_dir():
    """The run's servers keep their data under the project's var/, not pytest's temporary directory: the embedded
    PostgreSQL runs as an unprivileged user, and pytest makes its own temporary root private again whenever another
    test session starts."""
    path = PROJECT_ROOT / "var" / "test" / f"smoke-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(480)
def test_a_smoke_run_measures_every_phase(tmp_path, var_dir):
    reports = tmp_path / "reports"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtests.bench",
            "--smoke",
            "--workers",
            "2",
            "--var-dir",
            str(var_dir),
            "--report-dir",
            str(reports),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=470,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (json_report,) = reports.glob("bench-*.json")
    (markdown_report,) = reports.glob("bench-*.md")
    results = orjson.loads(json_report.read_bytes())

    assert results["baseline"]["rps"] > 0 and not results["baseline"]["failures"]
    assert results["baseline"]["cpu_ms_per_request"] > 0
    assert results["peak"]["ok"] > 0 and not results["peak"]["failures"]
    assert results["peak"]["p50_ms"] <= results["peak"]["p99_ms"]
    assert 0 < results["peak"]["sustained_rps"] <= results["peak"]["rps"] * 1.5
    cost = results["peak"]["per_charge"]["cpu_ms"]
    assert all(cost[part] > 0 for part in ("gateway", "postgres", "psp_simulators", "load_generator"))
    # Each completed charge queues two messages (SMS, Iran Poosheh); each call to a provider carries many.
    assert 0 < results["peak"]["per_charge"]["message_calls"] < 2
    assert results["half_peak"]["ok"] > 0 and not results["half_peak"]["failures"]

    identity = results["identity"]  # every charge of a service that requires the inquiry asks both services once
    assert identity["peak"]["ok"] > 0 and not identity["peak"]["failures"]
    assert identity["half_peak"]["ok"] > 0 and not identity["half_peak"]["failures"]
    assert identity["inquiries_per_charge"] == {"civil-registry": 1.0, "shahkar": 1.0}
    assert identity["peak"]["per_charge"]["cpu_ms"]["identity_simulators"] > 0

    hosts = results["two_hosts"]  # one of two gateway hosts killed under load
    assert hosts["before"]["ok"] > 0 and hosts["during"]["ok"] > 0 and hosts["after"]["ok"] > 0
    assert not hosts["before"]["failures"] and not hosts["after"]["failures"]
    assert hosts["pending_after_kill"] == 0
    assert hosts["conservation"]["clean"], hosts["conservation"]
    assert hosts["messages"]["completed_charges"] > 0
    assert hosts["messages"]["sms_never_received"] == hosts["messages"]["sms_received_more_than_once"] == 0

    burst = results["concurrency"]
    assert burst["ok"] == burst["charges"] and not burst["failures"]
    assert burst["max_in_flight"] == burst["pending_in_db_max"] == burst["charges"]
    assert burst["all_pending_after_s"] is not None and burst["seconds"] < burst["pin_delay_s"] / 2
    assert burst["gateway_rss_max_mib"] > 0

    growth = results["growth"]
    assert growth["history_rows"] > 0 and growth["loaded"]["ok"] > 0 and growth["ratio"] > 0
    assert not growth["loaded"]["failures"]  # live charges continue the generated receipt chains
    database = growth["loaded"]["database"]
    # One charge inserted per charge, by at most one statement each (fewer when concurrent charges' inserts go
    # together). pg_stat_statements can list that one statement under two query ids in a run (a smoke run showed
    # 0.729 + 0.271 calls per charge), so they are summed.
    inserts = [row for row in database["statements"] if "WITH new_charges AS" in row["query"]]
    assert sum(row["rows"] for row in inserts) >= 0.99, database["statements"]
    assert 0 < sum(row["calls"] for row in inserts) <= 1.01, database["statements"]
    assert database["indexes_read"] and growth["empty"]["database"]["statement_ms"] > 0
    assert all(rate["per_second"] > 0 for rate in results["rendering"].values())
    reconciliation = results["reconciliation"]  # a 2,000-row PSP file imported and its day reconciled
    assert reconciliation["report_rows_by_kind"] == {"matched": 1999, "amount_mismatch": 1}
    assert reconciliation["raw_copy_s"] > 0 and reconciliation["ratio"] > 0
    assert results["pending_after_run"] == 0
    assert "split_charging" not in results["oversight_findings"], results["oversight_findings"]
    assert results["conservation"]["available"] and results["conservation"]["clean"], results["conservation"]
    assert {t["target"] for t in results["targets"]} >= {
        "gateway CPU per charge / hello-world CPU per request",
        "PostgreSQL transactions per charge",
        "PostgreSQL CPU per charge",
        "p99 at half of peak",
        "p99 at half of peak, identity inquiry required",
        "two gateway hosts, one killed under load",
        "reconciliation import + match / raw COPY of the same file",
    }
    (reconciliation_target,) = [t for t in results["targets"] if t["target"].startswith("reconciliation")]
    # A small file gives figures but no verdict on the target, which is about a full-size day.
    assert reconciliation_target["met"] is None
    assert reconciliation_target["note"] == "run with 2,000 rows, not 1,000,000"
    assert "## Targets" in markdown_report.read_text(encoding="utf-8")
