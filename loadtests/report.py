"""The benchmark report: the issue's targets as ratios from one run, in Markdown and JSON (loadtests/reports/)."""

from __future__ import annotations

from pathlib import Path

import orjson

from loadtests import identity_cost, maintenance, reconcile_bench, two_hosts

TARGET_IN_FLIGHT = 30_000
TARGET_HISTORY = 10_000_000
MEMORY_LIMIT_MIB = 2048
MAX_CPU_RATIO = 8  # gateway CPU per completed charge against the hello-world server's per request
MAX_PG_TRANSACTIONS = 2
PG_CPU_MS_BEFORE = 0.86  # PostgreSQL CPU per charge before the round trips were cut (docs/performance.md)


def _all_pending(burst: dict) -> str:
    after = burst.get("all_pending_after_s")
    return "never all at once" if after is None else f"after {after} s"


def _target(name: str, goal: str, measured: str, met: bool | None, note: str = "") -> dict:
    return {"target": name, "goal": goal, "measured": measured, "met": met, "note": note}


def targets(results: dict) -> list[dict]:
    rows = []
    baseline, peak = results.get("baseline"), results["peak"]
    cost = peak.get("per_charge") or {}
    gateway_ms = cost.get("cpu_ms", {}).get("gateway")
    hello_ms = baseline.get("cpu_ms_per_request") if baseline else None
    if gateway_ms is not None and hello_ms:
        ratio = gateway_ms / hello_ms
        rows.append(
            _target(
                "gateway CPU per charge / hello-world CPU per request",
                f"≤ {MAX_CPU_RATIO}",
                f"{ratio:.1f} ({gateway_ms} / {hello_ms} ms)",
                ratio <= MAX_CPU_RATIO,
                f"background work included; throughput {peak['sustained_rps']} charges/s sustained, "
                f"{baseline['rps']} hello-world requests/s",
            )
        )
    if cost:
        transactions = cost["pg_transactions"]
        rows.append(
            _target(
                "PostgreSQL transactions per charge",
                f"≤ {MAX_PG_TRANSACTIONS}",
                f"{transactions}",
                transactions <= MAX_PG_TRANSACTIONS,
                "background work included",
            )
        )
        postgres_ms = cost["cpu_ms"].get("postgres")
        statement_ms = (peak.get("database") or {}).get("statement_ms")
        rows.append(
            _target(
                "PostgreSQL CPU per charge",
                f"≤ {PG_CPU_MS_BEFORE / 2} ms (half of {PG_CPU_MS_BEFORE})",
                f"{postgres_ms} ms; statement time {statement_ms} ms",
                postgres_ms is not None and postgres_ms <= PG_CPU_MS_BEFORE / 2,
                "a cost of one run on a shared machine: compare runs of the same day",
            )
        )
    half = results.get("half_peak")
    if half:
        p99 = half["p99_ms"]
        rows.append(
            _target(
                "p99 at half of peak",
                "≤ 50 ms",
                f"{p99} ms at {half['rate']} charges/s",
                p99 is not None and p99 <= 50 and not half["failures"],
                f"failures: {half['failures']}" if half["failures"] else "",
            )
        )
    rows += identity_cost.targets(results)
    rows += two_hosts.targets(results)
    burst = results.get("concurrency")
    if burst:
        failures = sum(burst["failures"].values())
        reached = min(burst["max_in_flight"], burst["pending_in_db_max"] or burst["max_in_flight"])
        met = failures == 0 and burst["gateway_rss_max_mib"] < MEMORY_LIMIT_MIB and reached >= burst["charges"]
        note = "" if burst["charges"] >= TARGET_IN_FLIGHT else f"run with {burst['charges']}, not {TARGET_IN_FLIGHT:,}"
        rows.append(
            _target(
                f"{TARGET_IN_FLIGHT:,} in flight, no errors, gateway memory",
                "0 errors, < 2 GiB",
                f"{reached:,} in flight, {failures} errors, {burst['gateway_rss_max_mib']} MiB RSS "
                f"({burst['gateway_pss_max_mib']} MiB PSS)",
                met if not note else None,
                note,
            )
        )
    growth = results.get("growth")
    if growth and growth["ratio"] is not None:
        note = (
            ""
            if growth["history_rows"] >= TARGET_HISTORY
            else f"run with {growth['history_rows']:,} rows, not {TARGET_HISTORY:,}"
        )
        cpu = growth.get("stack_cpu_ms_per_charge", {})
        rows.append(
            _target(
                f"throughput with {TARGET_HISTORY:,} charges / empty",
                "≥ 0.8",
                f"{growth['ratio']} ({growth['loaded']['rps']} / {growth['empty']['rps']} per s); "
                f"by stack CPU per charge {growth.get('cpu_ratio')} "
                f"({cpu.get('empty')} / {cpu.get('loaded')} ms)",
                growth["ratio"] >= 0.8 if not note else None,
                note,
            )
        )
    reconciliation = results.get("reconciliation")
    if reconciliation:
        note = (
            ""
            if reconciliation["requested_rows"] >= reconcile_bench.FULL_ROWS
            else f"run with {reconciliation['requested_rows']:,} rows, not {reconcile_bench.FULL_ROWS:,}"
        )
        rows.append(
            _target(
                "reconciliation import + match / raw COPY of the same file",
                f"≥ {reconcile_bench.TARGET_RATIO}",
                f"{reconciliation['ratio']} (raw COPY {reconciliation['raw_copy_s']} s, import "
                f"{reconciliation['import_s']} s, match {reconciliation['match_s']} s)",
                reconciliation["met"] if not note else None,
                note,
            )
        )
    conservation = results.get("conservation", {})
    if conservation.get("available"):
        rows.append(
            _target("conservation check", "clean", f"exit code {conservation['exit_code']}", conservation["clean"])
        )
    return rows


def _mark(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "n/a"}[met]


def _latency_row(name: str, run: dict | None) -> str:
    if not run:
        return f"| {name} | skipped | | | | |"
    return (
        f"| {name} | {run['rps']} | {run['p50_ms']} | {run['p99_ms']} | {run.get('clients', '')} | "
        f"{run['failures'] or 0} |"
    )


def _sizes_line(sizes: dict) -> str:
    """On disk, rows, TOAST and indexes together, and per stored charge (history and the run's own charges)."""
    stored = sizes["charges_stored"] or 1
    total = sum(sizes["bytes"].values())
    parts = [f"{name} {size / 2**20:,.1f} MiB ({size / stored:,.0f} B)" for name, size in sizes["bytes"].items()]
    return (
        f"On disk with indexes, per stored charge in brackets ({sizes['charges_stored']:,} charges): "
        + ", ".join(parts)
        + f"; {total / 2**20:,.1f} MiB in all, {total / stored:,.0f} bytes per stored charge."
    )


def _database_growth(empty: dict | None, loaded: dict | None) -> list[str]:
    """PostgreSQL's statements and index reads per charge, empty database against loaded."""
    if not empty or not loaded:
        return []
    lines = [
        "",
        f"PostgreSQL statement time per charge: {empty['statement_ms']} ms empty, "
        f"{loaded['statement_ms']} ms loaded; of which reading blocks past the buffer cache "
        f"{empty['read_ms']} ms empty, {loaded['read_ms']} ms loaded.",
        "",
        "| statement (loaded run's costliest) | calls | ms empty | ms loaded | blocks read empty | "
        "blocks read loaded |",
        "|---|---|---|---|---|---|",
    ]
    empty_by_query = {row["query"]: row for row in empty["statements"]}
    for row in loaded["statements"]:
        before = empty_by_query.get(row["query"], {})
        query = row["query"].replace("|", "\\|")
        lines.append(
            f"| `{query}` | {row['calls']} | {before.get('ms', '')} | {row['ms']} | "
            f"{before.get('read', '')} | {row['read']} |"
        )
    lines += [
        "",
        "| index (most blocks read past the buffer cache, loaded) | read empty | read loaded | hit loaded |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {empty['indexes_read'].get(name, {}).get('read', '')} | {blocks['read']} | {blocks['hit']} |"
        for name, blocks in loaded["indexes_read"].items()
    ]
    return lines


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"# Benchmark {results['started_at']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}; "
        f"load average at start {m['load_average_at_start']}, at end {m.get('load_average_at_end')} "
        "(the machine is shared: other work runs beside the benchmark).",
        f"Gateway processes: {results['config']['workers']}; load generator processes: "
        f"{results['config']['generators']}; setup {results['setup_seconds']} s, total {results['total_seconds']} s.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | verdict | note |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['target']} | {t['goal']} | {t['measured']} | {_mark(t['met'])} | {t['note']} |"
        for t in results["targets"]
    ]
    lines += [
        "",
        "## Throughput and latency",
        "",
        "| run | per second | p50 ms | p99 ms | clients | failures |",
        "|---|---|---|---|---|---|",
        _latency_row("hello-world baseline", results.get("baseline")),
        _latency_row("charge pipeline, peak", results["peak"]),
        _latency_row("charge pipeline, half of peak (open loop)", results.get("half_peak")),
    ]
    growth = results.get("growth")
    if growth:
        lines.append(_latency_row(f"charge pipeline, {growth['history_rows']:,} stored charges", growth["loaded"]))
    lines += [
        "",
        "Peak runs by client count: "
        + "; ".join(
            f"{run['clients']} clients {run['rps']}/s p99 {run['p99_ms']} ms, sustained {run['sustained_rps']}/s "
            f"(background caught up in {run['drained_s']} s)"
            for run in results["peak"]["runs"]
        ),
    ]
    identity = results.get("identity") or {}
    for label, half in (("Half of peak", results.get("half_peak")), ("With the inquiry", identity.get("half_peak"))):
        if half and "slow_answers" in half:
            lines += ["", _slow_answers(label, half)]
    cost = results["peak"].get("per_charge")
    if cost:
        lines += [
            "",
            "## Cost of one completed charge (peak run)",
            "",
            f"PostgreSQL transactions (round trips in autocommit): {cost['pg_transactions']}; "
            f"PostgreSQL WAL (what each replica replays): {cost.get('wal_bytes', 'n/a')} bytes; "
            f"Redis commands, those run inside Lua scripts included: {cost['redis_commands']} ("
            + ", ".join(f"{name} {calls}" for name, calls in cost["redis_by_command"].items())
            + ").",
            f"HTTP calls to the message providers (SMS, Iran Poosheh inbox): {cost.get('message_calls', 'n/a')} ("
            + ", ".join(f"{route} {calls}" for route, calls in cost.get("message_calls_by_route", {}).items())
            + ").",
            "",
            "| part | CPU ms per charge |",
            "|---|---|",
        ]
        lines += [f"| {name} | {ms} |" for name, ms in cost["cpu_ms"].items()]
        lines.append(f"| all | {cost['cpu_ms_total']} |")
        if "gateway_background_cpu_ms" in cost:
            lines.append(
                f"| of the gateway's, its background process (outbox, settlement, recovery, oversight) | "
                f"{cost['gateway_background_cpu_ms']} |"
            )
    lines += identity_cost.markdown(results)
    lines += two_hosts.markdown(results)
    burst = results.get("concurrency")
    if burst:
        lines += [
            "",
            "## Concurrency",
            "",
            f"{burst['charges']:,} charges, one per terminal, started over {burst['ramp_s']} s; the simulator "
            f"held each card until all were pending ({_all_pending(burst)}) and {burst.get('hold_s')} s more, then "
            f"finished them over as long as they took to arrive, at most {burst['pin_delay_s']} s. "
            f"Completed {burst['ok']:,}, failures {burst['failures']}, "
            f"most in flight at the client {burst['max_in_flight']:,}, most pending in PostgreSQL "
            f"{burst['pending_in_db_max']:,}.",
            f"Gateway memory ({burst['gateway_processes']} processes): idle {burst['gateway_rss_idle_mib']} MiB "
            f"RSS, peak {burst['gateway_rss_max_mib']} MiB RSS / {burst['gateway_pss_max_mib']} MiB PSS. "
            f"Most Redis clients {burst['redis_clients_max']}, most PostgreSQL connections "
            f"{burst['pg_connections_max']}. Latency p50 {burst['p50_ms']} ms, p99 {burst['p99_ms']} ms "
            f"(PIN delay included).",
        ]
    if growth:
        lines += [
            "",
            "## Growth",
            "",
            f"{growth['history_rows']:,} completed charges (with receipts, idempotency keys and outbox rows) "
            f"generated in {growth['fill_seconds']} s. " + _sizes_line(growth["table_sizes"]),
        ]
        lines += _database_growth(growth["empty"].get("database"), growth["loaded"].get("database"))
    rendering = results.get("rendering")
    if rendering:
        lines += ["", "## Rendering (one process, in process)", "", "| operation | per second |", "|---|---|"]
        lines += [f"| {name} | {rate['per_second']} |" for name, rate in rendering.items()]
    profile = results.get("profile")
    if profile and "inclusive" in profile:
        lines += [
            "",
            f"## Profile ({profile['samples']} busy samples, {profile['file']})",
            "",
            "| function (inclusive) | % | function (self) | % |",
            "|---|---|---|---|",
        ]
        for (inc, inc_pct), (own, own_pct) in zip(
            profile["inclusive"], profile["self"], strict=False
        ):  # as many rows as the shorter list
            lines.append(f"| {inc} | {inc_pct} | {own} | {own_pct} |")
        lines += [
            "",
            "Self time by package: " + ", ".join(f"{name} {pct}%" for name, pct in profile["self_by_package"]),
        ]
    mix = results.get("locust")
    if mix and "requests" in mix:
        lines += [
            "",
            f"## Locust mix ({mix['users']} terminals, {mix['seconds']:.0f} s)",
            "",
            "| request | count | failures | per second | p50 ms | p99 ms |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['name']} | {r['count']} | {r['failures']} | {r['per_second']:.1f} | {r['p50_ms']} | {r['p99_ms']} |"
            for r in mix["requests"]
        ]
    elif mix:
        lines += ["", "## Locust mix", "", f"locust did not run: {mix['error']}"]
    conservation = results.get("conservation", {})
    lines += ["", "## Conservation check", ""]
    if conservation.get("available"):
        lines += [
            f"Exit code {conservation['exit_code']} ({'clean' if conservation['clean'] else 'NOT clean'}).",
            "",
            "```",
            conservation["output"].strip(),
            "```",
        ]
    else:
        lines.append(conservation.get("note", "not run"))
    lines += [
        "",
        f"Charges still pending after the run: {results.get('pending_after_run')}; charges resolved by the "
        f"recovery worker: {results.get('resolved_by_recovery')}.",
        "",
        f"Oversight findings for the run's traffic (split charging must be none: every charge is for a "
        f"different citizen): {results.get('oversight_findings')}.",
        "",
    ]
    return "\n".join(lines)


def write_reports(results: dict, directory: Path, stamp: str) -> tuple[Path, Path]:
    results["targets"] = targets(results)
    directory.mkdir(parents=True, exist_ok=True)
    md_path = directory / f"bench-{stamp}.md"
    json_path = directory / f"bench-{stamp}.json"
    md_path.write_text(markdown(results), encoding="utf-8")
    json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return md_path, json_path


def _slow_answers(label: str, half: dict) -> str:
    """When a latency phase's answers over 50 ms came, and autovacuum's passes in the same window."""
    return (
        f"{label} (after a VACUUM of {half['vacuumed_before_s']} s): {half['slow_answers']} answers over 50 ms of "
        f"{half['ok']}; the seconds of the window with the most (spread out: queueing; a few seconds: a stall of "
        "something shared): "
        + (", ".join(f"{second} s: {count}" for second, count in half["slowest_seconds"]) or "none")
        + f". Autovacuum in the window: {maintenance.describe(half['autovacuum_in_window'])}."
    )
