"""The harness's pure parts: the generated fleet, percentiles and merging, the measuring window, profile summaries."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.core.identifiers import parse_iban
from gateway.core.registry import parse_registry
from loadtests.fleet import fleet_registry, iranian_iban, spread_over_offices
from loadtests.loadgen import Tally
from loadtests.measure import merge, percentile, summarise
from loadtests.profiling import summarise as summarise_profile

TODAY = date(2026, 11, 23)


def test_generated_ibans_carry_valid_check_digits():
    for account in ("0150000000000000000001", "0620000000000000012345", "0120000000000000999999"):
        iban = iranian_iban(account)
        assert parse_iban(iban) == iban and iban.endswith(account)
    with pytest.raises(ValueError):
        iranian_iban("123")


def test_the_fleet_registry_loads_and_uses_only_licensed_psps():
    document, terminals = fleet_registry(offices=5, terminals_per_office=3, today=TODAY)
    registry = parse_registry(document)
    assert len(terminals) == 15
    assert {t.terminal_id for t in terminals} <= registry.terminals.keys()
    assert {t.psp_id for t in terminals} == {"psp-mellat", "psp-saman", "psp-sadad"}  # not the expired one
    for terminal in terminals:
        assert registry.operators[terminal.operator_id].office_id == terminal.office_id
        assert registry.terminals[terminal.terminal_id].office_id == terminal.office_id
    assert "11110001" in registry.offices  # the demo registry is kept


def test_spreading_takes_one_terminal_per_office_before_a_second():
    _, terminals = fleet_registry(offices=4, terminals_per_office=2, today=TODAY)
    first_four = spread_over_offices(terminals, 4)
    assert len({t.office_id for t in first_four}) == 4
    six = spread_over_offices(terminals, 6)
    assert len({t.terminal_id for t in six}) == 6 and len({t.office_id for t in six}) == 4
    with pytest.raises(ValueError):
        spread_over_offices(terminals, 9)


def test_percentiles_are_nearest_rank():
    ordered = [float(x) for x in range(1, 101)]
    assert percentile(ordered, 50) == 50.0
    assert percentile(ordered, 99) == 99.0
    assert percentile(ordered, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_only_completions_inside_the_window_count():
    tally = Tally(window_start=10.0, window_end=20.0)
    tally.record(9.0, 9.5, None)  # warm-up
    tally.record(9.8, 10.3, None)
    tally.record(15.0, 15.2, "409:terminal_busy")
    tally.record(19.9, 20.5, None)  # after the window
    result = tally.result()
    assert result["ok"] == 1 and result["latencies_ms"] == [500.0]
    assert result["failures"] == {"409:terminal_busy": 1}
    assert result["ok_all"] == 3


def test_results_of_side_by_side_generators_merge():
    one = {
        "window_s": 10.0,
        "ok": 3,
        "ok_all": 4,
        "failures": {"timeout": 1},
        "latencies_ms": [5.0, 1.0, 3.0],
        "clients": 2,
        "cpu_s": 1.5,
        "window_start_unix": 1000.25,
    }
    two = {
        "window_s": 10.0,
        "ok": 1,
        "ok_all": 1,
        "failures": {"timeout": 2, "500": 1},
        "latencies_ms": [9.0],
        "clients": 3,
        "cpu_s": 0.5,
        "window_start_unix": 1000.5,
    }
    merged = summarise(merge([one, two]))
    assert merged["ok"] == 4 and merged["clients"] == 5 and merged["generators"] == 2
    assert merged["failures"] == {"timeout": 3, "500": 1}
    assert merged["rps"] == 0.4 and merged["p50_ms"] == 3.0 and merged["max_ms"] == 9.0
    assert merged["generator_cpu_s"] == 2.0
    assert merged["window_start_unix"] == 1000.25  # the earliest generator's window: seconds count from it
    assert "latencies_ms" not in merged


def test_a_profile_summary_counts_inclusive_and_self_shares(tmp_path):
    folded = tmp_path / "profile.folded"
    folded.write_text(
        'process 1:"python -m gateway.cli serve";main (gateway/cli.py:10);create (gateway/charging/service.py:60);'
        "fetchval (asyncpg/pool.py:5) 30\n"
        'process 1:"python -m gateway.cli serve";main (gateway/cli.py:10);create (gateway/charging/service.py:61) 10\n'
        'process 2:"python -m gateway.cli serve";main (gateway/cli.py:10);'
        "render (gateway/messaging/sms_text.py:3) 60\n",
        encoding="utf-8",
    )
    summary = summarise_profile(folded)
    assert summary["samples"] == 100
    inclusive = dict(map(tuple, summary["inclusive"]))
    assert "main (gateway/cli.py)" not in inclusive  # under every sample: an entry frame, left out
    assert inclusive == {
        "render (gateway/messaging/sms_text.py)": 60.0,
        "create (gateway/charging/service.py)": 40.0,
        "fetchval (asyncpg/pool.py)": 30.0,
    }
    own = dict(map(tuple, summary["self"]))
    assert own == {
        "render (gateway/messaging/sms_text.py)": 60.0,
        "fetchval (asyncpg/pool.py)": 30.0,
        "create (gateway/charging/service.py)": 10.0,
    }
    assert dict(map(tuple, summary["self_by_package"])) == {"gateway": 70.0, "asyncpg": 30.0}
