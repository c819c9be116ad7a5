"""The benchmark harness (`make bench`): sets up the whole stack under var/bench and, in one run, measures

1. baseline   an aiohttp hello-world JSON endpoint, same processes, same load generator;
2. peak       charge-pipeline throughput with p50/p99 (closed loop, one client per terminal, many offices);
3. half_peak  latency at half of peak (open loop at a fixed rate);
   identity   peak and half of peak again for a service whose policy requires the identity inquiry
              (loadtests/identity_cost.py);
   two_hosts  two gateway hosts on one PostgreSQL and Valkey, one killed under load (loadtests/two_hosts.py);
4. concurrency  N charges in flight at once: the simulator holds each card in PIN entry until all N are
                pending, and `--hold` seconds more; gateway memory (all processes) and errors;
5. growth     peak again with M generated charges in the database, against the empty-database peak;
6. rendering  receipt PDF renders and verifications per second (in process);
7. reconciliation  a PSP settlement file imported and its day reconciled, against a raw COPY of the same file
                (loadtests/reconcile_bench.py, in a database of its own on the same server);
then runs the conservation check, and writes loadtests/reports/bench-<time>.{md,json} with the ratios against
the targets of the issue. Every figure is a ratio against the same machine in the same run.

    python -m loadtests.bench                       # the full run (10,000,000 history rows take a while)
    python -m loadtests.bench --smoke               # seconds: tiny counts, for a quick check
    python -m loadtests.bench --in-flight 5000 --history 1000000 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import psutil
import redis.asyncio as aioredis

from gateway.core.charge import PENDING as PENDING_STATUSES
from gateway.platform.config import PROJECT_ROOT
from loadtests import database_statistics, identity_cost, maintenance, profiling, reconcile_bench, two_hosts
from loadtests.fleet import FleetTerminal, spread_over_offices
from loadtests.history import add_history
from loadtests.measure import cpu_seconds, per_charge, rss_bytes, run_generators, snapshot, split, summarise
from loadtests.rendering import rendering_rates
from loadtests.report import write_reports
from loadtests.stack import (
    ISO8583,
    RESOLVED_WITHIN_S,
    BenchStack,
    create_terminal_keys,
    start_bench_stack,
    start_module,
    wait_until_ready,
)
from receipts.keys_files import load_keyring
from simulators.devstack.embedded import free_port

# Connections one generator process holds in the concurrency phase: under the open-file limit (20,000 here) and
# the ephemeral ports of its own source address (28,000 on loopback).
CONNECTIONS_PER_GENERATOR = 12_000
# The concurrency phase's PIN delay in ramps: only a bound, since its cards are finished once all are pending.
PIN_DELAY_RAMPS = 3
FILES_KEPT_FREE = 4_000  # a gateway process's own files and connections (PostgreSQL, Redis, ISO 8583 links)
SERVICE_CODE = "1101"
SMALL_HISTORY = 100_000  # rows the growth phase loads with the gateway running
PENDING = sorted(status.value for status in PENDING_STATUSES)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, stack: BenchStack, keys: dict[str, str], work: Path) -> None:
        self.args = args
        self.stack = stack
        self.keys = keys
        self.work = work
        self.amount = 0
        self.charge_fields: dict = {}  # what a phase charges instead of SERVICE_CODE at self.amount

    def clients(self, terminals: list[FleetTerminal]) -> list[list[str]]:
        return [[t.terminal_id, t.operator_id, self.keys[t.terminal_id]] for t in terminals]

    def spec(self, mode: str, clients: list[list[str]], base_url: str, target: str = "charge", **fields) -> dict:
        return {
            "mode": mode,
            "base_url": base_url,
            "target": target,
            "clients": clients,
            "charge": {"service_code": SERVICE_CODE, "amount": self.amount, **self.charge_fields},
            **fields,
        }

    async def closed(self, base_url: str, target: str, concurrency: int, duration: float) -> dict:
        clients = self.clients(spread_over_offices(self.stack.terminals, concurrency))
        specs = [
            self.spec("closed", part, base_url, target, duration_s=duration, warmup_s=self.args.warmup, timeout_s=60)
            for part in split(clients, self.args.generators)
        ]
        return await run_generators(specs, self.work)

    async def quote_amount(self, service_code: str = SERVICE_CODE) -> int:
        """The full cap of the service at a fleet office now, asked of the gateway as a terminal would."""
        terminal = self.stack.terminals[0]
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{self.stack.base_url}/v1/tariffs/quote",
                params={"service_code": service_code},
                headers={"Authorization": f"Bearer {self.keys[terminal.terminal_id]}"},
            ) as response,
        ):
            response.raise_for_status()
            quote = await response.json()
        return quote["cap"]

    async def baseline(self) -> dict:
        """Phase 1: hello world, same processes, same generator, same client counts."""
        port = free_port()
        hello = start_module(
            "hello",
            "loadtests.hello",
            "--port",
            str(port),
            "--workers",
            str(self.args.workers),
            env=self.stack.env,
            log_path=self.stack.root / "hello.log",
        )
        try:
            await wait_until_ready(f"http://127.0.0.1:{port}/hello", hello)
            runs = []
            for concurrency in self.args.concurrency:
                cpu_before = cpu_seconds(hello.tree())
                result = await self.closed(f"http://127.0.0.1:{port}", "hello", concurrency, self.args.duration)
                # Same measure as the gateway's CPU per charge: every process of the server, warmup included.
                cpu_ms = 1000 * (cpu_seconds(hello.tree()) - cpu_before) / max(result["ok_all"], 1)
                runs.append({**summarise(result), "cpu_ms_per_request": round(cpu_ms, 4)})
        finally:
            hello.stop()
        return _best(runs)

    async def peak(self, label: str, concurrencies: list[int]) -> dict:
        """Phase 2 (and 5): closed loop at each client count, the best kept, with the per-charge costs."""
        runs = []
        for concurrency in concurrencies:
            idle = await snapshot(self.stack)
            await asyncio.sleep(self.args.stats_settle)
            before = await snapshot(self.stack)
            database_before = await database_statistics.read(self.stack.database_url)
            result = await self.closed(self.stack.base_url, "charge", concurrency, self.args.duration)
            # The background work (messages, settle calls) runs behind the charges, at a lower priority: the costs
            # of the run include its catching up, and the next phase starts from a quiet stack.
            drained = await _wait_until_idle(self.stack)
            await asyncio.sleep(self.args.stats_settle)
            after = await snapshot(self.stack)
            database = database_statistics.per_charge(
                database_before, await database_statistics.read(self.stack.database_url), result["ok_all"]
            )
            # What the stack sustains: the run's charges over its time plus the background work's catching up.
            sustained = result["ok_all"] / (self.args.warmup + self.args.duration + drained)
            run = {**summarise(result), "drained_s": round(drained, 1), "sustained_rps": round(sustained, 1)}
            run["per_charge"] = per_charge(idle, before, after, result["ok_all"], result["generator_cpu_s"])
            run["database"] = database
            runs.append(run)
            log(
                f"{label}: {concurrency} clients, {run['rps']} charges/s, p50 {run['p50_ms']} ms, "
                f"p99 {run['p99_ms']} ms, failures {run['failures']}"
            )
        return _best(runs)

    async def half_peak(self, peak_rps: float) -> dict:
        """Phase 3: open loop at half the sustained peak rate (the peak runs end once the stack is quiet again).

        Like pgbench before each run, the phase starts from a vacuumed database: the dead rows the peak phase left at
        twice this rate would otherwise be vacuumed inside this window, and billed to it. The window's own rows are
        vacuumed when autovacuum finds them due, as on a deployment."""
        rate = max(1.0, peak_rps / 2)
        vacuumed_s = await _vacuum(self.stack.database_url)
        await _wait_until_idle(self.stack)
        pool = min(len(self.stack.terminals), max(64, math.ceil(rate)))
        clients = self.clients(spread_over_offices(self.stack.terminals, pool))
        parts = split(clients, self.args.generators)
        specs = [
            self.spec(
                "open",
                part,
                self.stack.base_url,
                rate=rate * len(part) / len(clients),
                duration_s=self.args.latency_duration,
                warmup_s=self.args.warmup,
                timeout_s=60,
            )
            for part in parts
        ]
        maintenance_before = await maintenance.read(self.stack.database_url)
        result = summarise(await run_generators(specs, self.work))
        passes = maintenance.in_window(
            maintenance_before, await maintenance.read(self.stack.database_url), result["window_start_unix"]
        )
        return {**result, "vacuumed_before_s": vacuumed_s, "autovacuum_in_window": passes}

    async def concurrency(self, peak_rps: float) -> dict:
        """Phase 4: one charge per terminal, all in flight at once behind a long PIN-entry delay."""
        count = self.args.in_flight
        # Arrivals at the measured peak pace (admitting a charge is cheaper than completing one). Every card is
        # held until all charges are pending in PostgreSQL, and `hold` seconds more; the PIN delay only bounds that
        # should they never all be, as admission may fall behind the pace by more than the ramp itself.
        ramp = count / max(peak_rps, 1.0)
        pin_delay = max(self.args.min_pin_delay, PIN_DELAY_RAMPS * ramp + self.args.hold)
        log(f"concurrency: {count} charges over {ramp:.0f} s, cards held till all are pending (≤ {pin_delay:.0f} s)")
        # A charge the earlier phases left in flight keeps its terminal busy until it is resolved.
        await _wait_for_settled(self.stack.database_url, timeout=RESOLVED_WITHIN_S)
        terminals = spread_over_offices(self.stack.terminals, count)
        await self.stack.simulators.set_pin_delay(terminals, round(pin_delay * 1000))
        # The gateway waits for a purchase answer for as long as the cardholder may take, and recovery leaves
        # these charges alone meanwhile.
        self.stack.stop_gateway()
        workers = self._workers_for(terminals)
        await self.stack.start_gateway(
            workers,
            {
                "PISHKHAN_PURCHASE_TIMEOUT_S": str(round(pin_delay + 60)),
                "PISHKHAN_RECOVERY_GRACE_S": str(round(pin_delay + 180)),
            },
        )
        clients = self.clients(terminals)
        parts = max(1, math.ceil(count / CONNECTIONS_PER_GENERATOR))
        # Loopback has 28,000 ephemeral ports per source address: each generator connects from its own one.
        specs = [
            self.spec(
                "burst",
                part,
                self.stack.base_url,
                ramp_s=ramp,
                timeout_s=ramp + pin_delay + 180,
                local_host=f"127.0.0.{2 + index}",
            )
            for index, part in enumerate(split(clients, parts))
        ]
        idle_rss = rss_bytes(self.stack.gateway.tree())
        sampler = Sampler(self.stack, pending_goal=count)
        sampling = asyncio.create_task(sampler.run())
        started = time.monotonic()
        finishing = asyncio.create_task(self._finish_cards_when_all_pending(sampler, started))
        try:
            result = await run_generators(specs, self.work)
        finally:
            for task in (sampling, finishing):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        summary = summarise(result)
        summary.update(
            charges=count,
            ramp_s=round(ramp, 1),
            pin_delay_s=round(pin_delay, 1),
            hold_s=self.args.hold,
            all_pending_after_s=sampler.all_pending_after_s(started),
            seconds=round(time.monotonic() - started, 1),
            gateway_processes=len(self.stack.gateway.tree()),
            gateway_rss_idle_mib=round(idle_rss / 2**20, 1),
            **sampler.result(),
        )
        self.stack.stop_gateway()
        await self.stack.simulators.set_pin_delay(terminals, 0)
        await self.stack.start_gateway(self.args.workers, {})
        return summary

    async def _finish_cards_when_all_pending(self, sampler: Sampler, started: float) -> None:
        """Once all are pending and held `hold` seconds, the cardholders finish in the order they began, over as
        long as the charges took to arrive: the gateway completes them at the pace it admitted them."""
        await sampler.all_pending.wait()
        arrival_s = time.monotonic() - started
        log(f"concurrency: all pending after {arrival_s:.0f} s; cards finish in {self.args.hold} s, over as long")
        await asyncio.sleep(self.args.hold)
        await self.stack.simulators.finish_pin_entry(over_s=arrival_s)

    def _workers_for(self, terminals: list[FleetTerminal]) -> int:
        """Serving processes enough for the phase's open connections under the open-file limit: one per charge
        from the clients, and one more per purchase at a PSP spoken to over HTTP (a connection held while the
        cardholder types the PIN)."""
        connections = sum(2 if self.stack.simulators.protocols[t.psp_id] != ISO8583 else 1 for t in terminals)
        per_process = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - FILES_KEPT_FREE
        return max(self.args.workers, math.ceil(connections / per_process))

    async def growth(self, empty: dict) -> dict:
        """Phase 5: stored history, then the peak again at the client count that gave the empty peak."""
        offices = sorted({t.office_id for t in self.stack.terminals})
        log(f"growth: adding {self.args.history:,} completed charges over {len(offices)} offices")

        def progress(done: int, seconds: float) -> None:
            log(f"growth: {done:,} rows in {seconds:.0f} s")

        # The load drops the charge tables' indexes: meanwhile the gateway's background polls would scan the
        # tables, so it is stopped for a history that takes more than moments.
        restart = self.args.history > SMALL_HISTORY
        if restart:
            self.stack.stop_gateway()
        fill_seconds = await add_history(self.stack.database_url, offices, self.args.history, progress=progress)
        if restart:
            await self.stack.start_gateway(self.args.workers, {})
            await _wait_until_idle(self.stack)
        sizes = await _table_sizes(self.stack.database_url)
        loaded = await self.peak("growth", [empty["clients"]])
        # Throughput swings with whatever else the shared machine runs; the CPU the stack spends per charge does
        # much less, so its ratio is reported beside the throughput ratio.
        empty_cpu, loaded_cpu = _stack_cpu_ms(empty), _stack_cpu_ms(loaded)
        return {
            "history_rows": self.args.history,
            "fill_seconds": round(fill_seconds, 1),
            "table_sizes": sizes,
            "empty": {k: empty[k] for k in ("rps", "p50_ms", "p99_ms", "clients", "database")},
            "loaded": loaded,
            "ratio": round(loaded["rps"] / empty["rps"], 3) if empty["rps"] else None,
            "stack_cpu_ms_per_charge": {"empty": empty_cpu, "loaded": loaded_cpu},
            "cpu_ratio": round(empty_cpu / loaded_cpu, 3) if empty_cpu and loaded_cpu else None,
        }

    async def rendering(self) -> dict:
        """Phase 6: receipt rendering and verification rates, on a receipt this run issued."""
        conn = await asyncpg.connect(self.stack.database_url)
        try:
            signed = await conn.fetchval(
                "SELECT signed::text FROM receipts WHERE key_id <> '' ORDER BY issued_at DESC LIMIT 1"
            )
        finally:
            await conn.close()
        return rendering_rates(orjson.loads(signed), load_keyring(self.stack.root / "keys"), self.args.render_seconds)

    async def profile(self, concurrency: int) -> dict:
        output = self.args.report_dir / f"profile-{self.args.stamp}.folded"
        output.parent.mkdir(parents=True, exist_ok=True)
        recorder = profiling.start_recording(self.stack.gateway.process.pid, self.args.profile_seconds, output)
        load = await self.closed(self.stack.base_url, "charge", concurrency, self.args.profile_seconds)
        _, errors = recorder.communicate(timeout=120)
        if recorder.returncode != 0 or not output.exists():
            return {"error": errors.decode(errors="replace")[-500:]}
        summary = profiling.summarise(output)
        summary.update(file=str(output), rps_while_profiling=summarise(load)["rps"])
        return summary

    async def locust(self) -> dict:
        """The realistic mix of loadtests/locustfile.py, headless, one locust user per terminal."""
        users = min(self.args.locust_users, len(self.stack.terminals))
        terminals = spread_over_offices(self.stack.terminals, users)
        fleet = self.stack.root / "locust-fleet.json"
        fleet.write_bytes(
            orjson.dumps(
                {
                    "host": self.stack.base_url,
                    "service_code": SERVICE_CODE,
                    "amount": self.amount,
                    "terminals": [
                        [t.terminal_id, t.operator_id, self.keys[t.terminal_id], t.psp_id] for t in terminals
                    ],
                    "simulators": {
                        psp_id: f"http://127.0.0.1:{control}"
                        for psp_id, (_, control) in self.stack.simulators.ports.items()
                    },
                }
            )
        )
        prefix = self.stack.root / "locust"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(PROJECT_ROOT / "loadtests" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // 5)),
            "--run-time",
            f"{self.args.locust:.0f}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            cwd=PROJECT_ROOT,
            env=dict(self.stack.env, PISHKHAN_LOCUST_FLEET=str(fleet)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await process.communicate()
        stats = prefix.with_name("locust_stats.csv")
        if not stats.exists():
            return {"error": errors.decode(errors="replace")[-1000:]}
        with stats.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        return {
            "users": users,
            "seconds": self.args.locust,
            "exit_code": process.returncode,
            "requests": [
                {
                    "name": row["Name"],
                    "count": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "per_second": float(row["Requests/s"]),
                    "p50_ms": row["50%"],
                    "p99_ms": row["99%"],
                }
                for row in rows
            ],
        }


class Sampler:
    """Gateway memory (RSS of every process, and PSS to count shared pages once), pending charges in PostgreSQL
    and Redis clients, sampled while the concurrency burst runs."""

    def __init__(self, stack: BenchStack, pending_goal: int) -> None:
        self.stack = stack
        self.rss_max = self.pss_max = 0
        self.pending_max = self.redis_clients_max = self.pg_connections_max = 0
        self.pending_goal = pending_goal
        self.all_pending = asyncio.Event()  # set once `pending_goal` charges are pending at once
        self._all_pending_at: float | None = None

    async def run(self) -> None:
        conn = await asyncpg.connect(self.stack.database_url)
        redis = aioredis.Redis.from_url(self.stack.embedded.redis_url)
        try:
            tick = 0
            while True:
                tree = self.stack.gateway.tree()
                self.rss_max = max(self.rss_max, rss_bytes(tree))
                if tick % 4 == 0:
                    self.pss_max = max(self.pss_max, _pss_bytes(tree))
                self.pending_max = max(
                    self.pending_max,
                    await conn.fetchval("SELECT count(*) FROM charges WHERE status = ANY($1::text[])", PENDING),
                )
                if self.pending_max >= self.pending_goal and not self.all_pending.is_set():
                    self._all_pending_at = time.monotonic()
                    self.all_pending.set()
                self.pg_connections_max = max(
                    self.pg_connections_max,
                    await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"),
                )
                self.redis_clients_max = max(self.redis_clients_max, (await redis.info("clients"))["connected_clients"])
                tick += 1
                await asyncio.sleep(0.5)
        finally:
            await conn.close()
            await redis.aclose()

    def all_pending_after_s(self, started: float) -> float | None:
        return None if self._all_pending_at is None else round(self._all_pending_at - started, 1)

    def result(self) -> dict:
        return {
            "gateway_rss_max_mib": round(self.rss_max / 2**20, 1),
            "gateway_pss_max_mib": round(self.pss_max / 2**20, 1),
            "pending_in_db_max": self.pending_max,
            "redis_clients_max": self.redis_clients_max,
            "pg_connections_max": self.pg_connections_max,
        }


def _pss_bytes(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_full_info().pss
    return total


def _stack_cpu_ms(run: dict) -> float | None:
    """CPU per charge of the gateway, PostgreSQL and Valkey (not the simulators or the load generator)."""
    cpu = run.get("per_charge", {}).get("cpu_ms")
    return round(cpu["gateway"] + cpu["postgres"] + cpu["valkey"], 3) if cpu else None


def _best(runs: list[dict]) -> dict:
    best = max(runs, key=lambda run: run["rps"] or 0)
    return {
        **best,
        "runs": [
            {
                k: run[k]
                for k in (
                    "clients",
                    "rps",
                    "sustained_rps",
                    "drained_s",
                    "p50_ms",
                    "p99_ms",
                    "failures",
                    "cpu_ms_per_request",
                )
                if k in run
            }
            for run in runs
        ],
    }


async def _wait_until_idle(stack: BenchStack, timeout: float = 180, busy: float = 0.1) -> float:
    """Until the gateway and PostgreSQL together use less than `busy` of a core; returns how long they were still
    busy. A freshly started gateway first loads the registry and catches its oversight detection up with the charges
    of the run so far; the measuring window's idle period must not take that for the stack's idle work."""

    def used() -> float:
        trees = stack.component_trees()
        return cpu_seconds(trees["gateway"]) + cpu_seconds(trees["postgres"])

    started = time.monotonic()
    before = used()
    while time.monotonic() < started + timeout:
        await asyncio.sleep(1)
        now = used()
        if now - before < busy:
            return time.monotonic() - started - 1  # the last second was the quiet one
        before = now
    return timeout


async def _vacuum(database_url: str) -> float:
    """VACUUM (ANALYZE) of the whole database; returns its seconds."""
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return round(time.monotonic() - started, 1)


async def _table_sizes(database_url: str) -> dict:
    """Each charge table's bytes on disk (rows, TOAST and indexes: pg_total_relation_size, summed over a partitioned
    table's partitions) and the charges stored, from which the report gives the bytes one stored charge costs."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT t.relname, (SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
                                  WHERE c.oid = t.relname::regclass
                                     OR c.oid IN (SELECT relid FROM pg_partition_tree(t.relname::regclass))) AS size
               FROM unnest(ARRAY['charges', 'idempotency_keys', 'outbox', 'receipts']) AS t(relname)
               ORDER BY t.relname"""
        )
        return {
            "charges_stored": await conn.fetchval("SELECT count(*) FROM charges"),
            "bytes": {row["relname"]: row["size"] for row in rows},
        }
    finally:
        await conn.close()


async def _claimed_by_recovery(database_url: str, since: str) -> int:
    """This run's charges the request left unresolved (an unclear PSP answer): the recovery worker claimed them."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM charges WHERE created_at >= $1 AND claim_epoch > 0", datetime.fromisoformat(since)
        )
    finally:
        await conn.close()


async def _wait_for_settled(database_url: str, timeout: float) -> int:
    """Waits until no charge is pending (the recovery worker resolves leftovers); the number still pending."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            pending = await conn.fetchval("SELECT count(*) FROM charges WHERE status = ANY($1::text[])", PENDING)
            if pending == 0 or time.monotonic() > deadline:
                return pending
            await asyncio.sleep(1)
    finally:
        await conn.close()


def oversight_findings(stack: BenchStack, since: str) -> dict[str, int]:
    """Runs `pishkhan oversight detect` over the run and counts its findings by type. Every generated charge is for
    a different citizen, so any split charging found is the harness's own mistake (and detection work that grows
    with the square of each office's charges); refusals above the cap come only from the locust mix."""
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "oversight", "detect", f"--since={since}"],
        env=stack.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
        timeout=600,
    )

    async def count() -> dict[str, int]:
        conn = await asyncpg.connect(stack.database_url)
        try:
            rows = await conn.fetch(
                "SELECT type, count(*) FROM violations WHERE occurred_at >= $1 GROUP BY type",
                datetime.fromisoformat(since),
            )
            return {row["type"]: row["count"] for row in rows}
        finally:
            await conn.close()

    return asyncio.run(count())


def conservation_check(stack: BenchStack, since: str, extra_args: list[str]) -> dict:
    """`pishkhan check-conservation` against the bench database and the simulators' ledger files, for the charges
    of this run only: the generated history has no PSP behind it. Reported as not available when the command does
    not exist yet."""
    command = [sys.executable, "-m", "gateway.cli", "check-conservation"]
    probe = subprocess.run([*command, "--help"], env=stack.env, cwd=PROJECT_ROOT, capture_output=True)
    if probe.returncode != 0:
        return {
            "available": False,
            "note": "`pishkhan check-conservation` does not exist in this tree yet; the simulators' ledgers "
            f"are kept in {stack.simulators.ledger_path('<psp>').parent} for a later check",
        }
    ledgers = [f"--transactions={psp_id}={stack.simulators.ledger_path(psp_id)}" for psp_id in stack.simulators.ports]
    completed = subprocess.run(
        [*command, *ledgers, f"--since={since}", *extra_args],
        env=stack.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return {
        "available": True,
        "clean": completed.returncode == 0,
        "exit_code": completed.returncode,
        "output": (completed.stdout + completed.stderr)[-4000:],
    }


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


async def run(args: argparse.Namespace) -> dict:
    started = time.monotonic()
    root = args.var_dir
    if root.exists():
        shutil.rmtree(root)
    fleet_terminals = max(args.in_flight, max(args.concurrency), 64)
    offices = math.ceil(fleet_terminals / args.terminals_per_office)
    log(f"setting up under {root}: {offices} offices, {offices * args.terminals_per_office} terminals")
    stack = start_bench_stack(root, offices, args.terminals_per_office)
    results: dict = {
        "machine": machine(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    try:
        keys = await create_terminal_keys(stack.database_url, [t.terminal_id for t in stack.terminals])
        bench = Bench(args, stack, keys, root / "loadgen")
        results["setup_seconds"] = round(time.monotonic() - started, 1)
        if "baseline" in args.phases:
            log("baseline: hello world")
            results["baseline"] = await bench.baseline()
            log(f"baseline: {results['baseline']['rps']} requests/s")
        await stack.start_gateway(args.workers, {})
        bench.amount = await bench.quote_amount()
        results["charge"] = {"service_code": SERVICE_CODE, "amount": bench.amount}
        results["peak"] = await bench.peak("peak", args.concurrency)
        peak_rps = results["peak"]["rps"] or 1.0
        if "half_peak" in args.phases:
            results["half_peak"] = await bench.half_peak(results["peak"]["sustained_rps"] or 1.0)
            log(f"half peak: {results['half_peak']['rps']} charges/s, p99 {results['half_peak']['p99_ms']} ms")
        if "identity" in args.phases:
            results["identity"] = await identity_cost.measure(bench, results["peak"])
        if "two_hosts" in args.phases:
            results["two_hosts"] = await two_hosts.measure(
                bench, results["peak"]["clients"], _wait_for_settled, conservation_check
            )
            log(f"two hosts: after / before the kill {results['two_hosts']['ratio']}")
        if args.profile:
            log(f"profile: py-spy on the gateway for {args.profile_seconds:.0f} s")
            results["profile"] = await bench.profile(results["peak"]["clients"])
        if "concurrency" in args.phases:
            results["concurrency"] = await bench.concurrency(peak_rps)
            c = results["concurrency"]
            log(f"concurrency: ok {c['ok']}, failures {c['failures']}, gateway RSS max {c['gateway_rss_max_mib']} MiB")
        if "growth" in args.phases:
            results["growth"] = await bench.growth(results["peak"])
            log(f"growth: ratio {results['growth']['ratio']}")
        if "rendering" in args.phases:
            results["rendering"] = await bench.rendering()
        if "reconciliation" in args.phases:
            log(f"reconciliation: a PSP file of {args.reconcile_rows:,} rows against a raw COPY of it")
            results["reconciliation"] = await reconcile_bench.measure(stack.database_url, args.reconcile_rows)
            log(f"reconciliation: import + match {results['reconciliation']['ratio']} x raw COPY")
        if args.locust:
            log(f"locust: {args.locust_users} terminals for {args.locust:.0f} s")
            results["locust"] = await bench.locust()
        results["pending_after_run"] = await _wait_for_settled(stack.database_url, timeout=RESOLVED_WITHIN_S)
        results["resolved_by_recovery"] = await _claimed_by_recovery(stack.database_url, results["started_at"])
        results["oversight_findings"] = await asyncio.to_thread(oversight_findings, stack, results["started_at"])
        results["conservation"] = await asyncio.to_thread(
            conservation_check, stack, results["started_at"], args.conservation_arg
        )
    finally:
        stack.stop()
        if not args.keep_data:
            # The databases of a full run take tens of GB; logs and the simulators' ledgers stay.
            shutil.rmtree(stack.embedded.root, ignore_errors=True)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


PHASES = ("baseline", "half_peak", "identity", "two_hosts", "concurrency", "growth", "rendering", "reconciliation")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="gateway (and hello-world) processes; default: one per core",
    )
    parser.add_argument("--generators", type=int, default=1, help="load generator processes for peak figures")
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[32, 96],
        help="closed-loop clients (one terminal each) to try for peak, comma separated",
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured per run")
    parser.add_argument(
        "--latency-duration",
        type=float,
        default=60.0,
        help="seconds measured at half of peak: a p99 needs thousands of answers to be stable",
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    parser.add_argument("--in-flight", type=int, default=30_000, help="charges in flight at once (concurrency)")
    parser.add_argument(
        "--hold",
        type=float,
        default=5.0,
        help="seconds all charges of the concurrency phase are kept pending together before their cards finish",
    )
    parser.add_argument("--min-pin-delay", type=float, default=5.0, help="shortest PIN-entry delay, seconds")
    parser.add_argument("--history", type=int, default=10_000_000, help="generated charges for growth")
    parser.add_argument("--terminals-per-office", type=int, default=2)
    parser.add_argument("--render-seconds", type=float, default=5.0)
    parser.add_argument(
        "--reconcile-rows",
        type=int,
        default=reconcile_bench.FULL_ROWS,
        help="settlement rows in the reconciliation phase's file",
    )
    parser.add_argument(
        "--stats-settle",
        type=float,
        default=11.0,
        help="idle seconds around each peak run: PostgreSQL backends flush their counters lazily, "
        "and the stack's idle work is measured then and taken off the per-charge costs",
    )
    parser.add_argument(
        "--locust",
        type=float,
        default=0.0,
        help="seconds of the locust mix (loadtests/locustfile.py) at the end; 0 leaves it out",
    )
    parser.add_argument("--locust-users", type=int, default=200, help="locust users, one terminal each")
    parser.add_argument("--profile", action="store_true", help="also record a py-spy profile under peak load")
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument("--skip", action="append", default=[], choices=PHASES, help="leave a phase out")
    parser.add_argument(
        "--conservation-arg",
        action="append",
        default=[],
        help="an argument to pass to `pishkhan check-conservation` (repeatable)",
    )
    parser.add_argument("--var-dir", type=Path, default=PROJECT_ROOT / "var" / "bench")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the PostgreSQL and Valkey data under --var-dir after the run"
    )
    parser.add_argument("--report-dir", type=Path, default=PROJECT_ROOT / "loadtests" / "reports")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny counts and short runs, to check the harness end to end in well under a minute",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.concurrency, args.duration, args.latency_duration, args.warmup = [8], 1.0, 1.0, 0.3
        # A PIN delay far longer than the phase: its cards finish only because all charges were pending.
        args.in_flight, args.hold, args.min_pin_delay = 16, 0.5, 60.0
        args.history, args.render_seconds, args.stats_settle, args.reconcile_rows = 1_000, 0.05, 0.0, 2_000
    args.phases = [phase for phase in PHASES if phase not in args.skip]
    args.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    markdown, json_path = write_reports(results, args.report_dir, args.stamp)
    print(markdown.read_text(encoding="utf-8"))
    log(f"reports: {markdown} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
