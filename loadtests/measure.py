"""Running load generator processes and reading the stack's counters around a phase."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import psutil
import redis.asyncio as aioredis

from gateway.platform.config import PROJECT_ROOT
from loadtests.loadgen import result_path
from loadtests.stack import MESSAGING_SIMULATORS, BenchStack


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summarise(result: dict) -> dict:
    """Throughput and latency percentiles of a (merged) generator result; raw latencies are dropped."""
    latencies = sorted(result["latencies_ms"])
    window = result["window_s"]
    summary = {key: value for key, value in result.items() if key not in ("latencies_ms", "slow_by_second")}
    slow = result.get("slow_by_second", {})
    summary.update(
        rps=round(result["ok"] / window, 1) if window else None,
        p50_ms=percentile(latencies, 50),
        p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else None,
        # When the slow answers came: spread out (queueing) or in a few seconds (a stall of something shared).
        slowest_seconds=sorted(slow.items(), key=lambda item: -item[1])[:10],
        slow_answers=sum(slow.values()),
    )
    return summary


def merge(results: list[dict]) -> dict:
    """One result from several generator processes that ran side by side."""
    failures: dict[str, int] = {}
    for result in results:
        for kind, count in result["failures"].items():
            failures[kind] = failures.get(kind, 0) + count
    merged = {
        "window_s": max(r["window_s"] for r in results),
        "ok": sum(r["ok"] for r in results),
        "ok_all": sum(r["ok_all"] for r in results),
        "failures": failures,
        "latencies_ms": [x for r in results for x in r["latencies_ms"]],
        "slow_by_second": _add_counts(r.get("slow_by_second", {}) for r in results),
        "generators": len(results),
        "generator_cpu_s": round(sum(r["cpu_s"] for r in results), 2),
        "window_start_unix": min(r["window_start_unix"] for r in results),
    }
    for key in ("clients", "max_in_flight", "started_late"):
        if key in results[0]:
            merged[key] = sum(r[key] for r in results)
    if "rate" in results[0]:
        merged["rate"] = round(sum(r["rate"] for r in results), 1)
    return merged


def _add_counts(counts) -> dict:
    total: dict = {}
    for count in counts:
        for key, value in count.items():
            total[int(key)] = total.get(int(key), 0) + value
    return total


async def run_generators(specs: list[dict], work_dir: Path) -> dict:
    """Runs one `loadtests.loadgen` process per spec, side by side, and merges their results."""
    work_dir.mkdir(parents=True, exist_ok=True)
    paths, processes = [], []
    for index, spec in enumerate(specs):
        path = work_dir / f"loadgen-{index}.json"
        path.write_bytes(orjson.dumps(spec))
        result_path(path).unlink(missing_ok=True)
        paths.append(path)
        processes.append(
            await asyncio.create_subprocess_exec(sys.executable, "-m", "loadtests.loadgen", str(path), cwd=PROJECT_ROOT)
        )
    for process in processes:
        if await process.wait() != 0:
            raise RuntimeError(f"a load generator failed with exit code {process.returncode}")
    results = [orjson.loads(result_path(path).read_bytes()) for path in paths]
    return merge(results)


def split(items: list, parts: int) -> list[list]:
    return [items[index::parts] for index in range(parts) if items[index::parts]]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def background_processes(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The gateway's background process (recovery, settlement, outbox, oversight): the one at a raised nice value."""
    found = []
    for process in processes:
        try:
            if process.nice() > 0:
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


def rss_bytes(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class Snapshot:
    at: float
    pg_transactions: int
    wal_bytes: int  # WAL written so far: what the replicas replay and the archive keeps
    redis_commands: dict[str, int]
    cpu_s: dict[str, float]
    gateway_background_cpu_s: float  # of cpu_s["gateway"]: the background process's share
    message_calls: dict[str, int] = field(default_factory=dict)  # HTTP calls each message simulator answered


async def snapshot(stack: BenchStack) -> Snapshot:
    """PostgreSQL transactions, Redis commands and CPU seconds of every part of the stack, at this moment."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        transactions = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        )
        wal_bytes = int(await conn.fetchval("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"))
    finally:
        await conn.close()
    redis = aioredis.Redis.from_url(stack.embedded.redis_url)
    try:
        commands = {
            name.removeprefix("cmdstat_"): stats["calls"] for name, stats in (await redis.info("commandstats")).items()
        }
    finally:
        await redis.aclose()
    trees = stack.component_trees()
    return Snapshot(
        time.monotonic(),
        transactions,
        wal_bytes,
        commands,
        {name: cpu_seconds(tree) for name, tree in trees.items()},
        cpu_seconds(background_processes(trees["gateway"])),
        await message_calls(stack),
    )


async def message_calls(stack: BenchStack) -> dict[str, int]:
    """HTTP calls the SMS centre and the Iran Poosheh inbox have answered so far (their `/control/calls`), by
    simulator and route."""
    calls: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for kind, setting in MESSAGING_SIMULATORS:
            if setting not in stack.env:
                continue
            async with session.get(f"{stack.env[setting]}/control/calls") as response:
                for route, count in (await response.json())["calls"].items():
                    calls[f"{kind} {route}"] = count
    return calls


MIN_IDLE_S = 1.0  # a shorter idle period measures nothing reliable: no correction then


def per_charge(idle_start: Snapshot, start: Snapshot, end: Snapshot, charges: int, generator_cpu_s: float) -> dict:
    """What one completed charge cost: round trips to PostgreSQL (transactions) and Redis, and CPU by part.

    The stack also works when idle (recovery polls, registry refresh, PostgreSQL's background processes); the
    rate measured between `idle_start` and `start`, with no load, is taken off the run from `start` to `end`,
    so that a slower run is not charged more per charge for the same background work."""
    if charges <= 0:
        return {}
    idle_s, busy_s = start.at - idle_start.at, end.at - start.at

    def cost(before: float, after: float, idle_before: float) -> float:
        idle_rate = (before - idle_before) / idle_s if idle_s >= MIN_IDLE_S else 0.0
        return max(0.0, (after - before) - idle_rate * busy_s) / charges

    cpu = {
        name: round(1000 * cost(start.cpu_s.get(name, 0.0), end.cpu_s[name], idle_start.cpu_s.get(name, 0.0)), 3)
        for name in end.cpu_s
    }
    cpu["load_generator"] = round(1000 * generator_cpu_s / charges, 3)
    redis = {
        name: round(cost(start.redis_commands.get(name, 0), calls, idle_start.redis_commands.get(name, 0)), 2)
        for name, calls in end.redis_commands.items()
        if calls != start.redis_commands.get(name, 0)
    }
    messages = {
        route: round(cost(start.message_calls.get(route, 0), calls, idle_start.message_calls.get(route, 0)), 3)
        for route, calls in end.message_calls.items()
        if calls != start.message_calls.get(route, 0)
    }
    background = cost(start.gateway_background_cpu_s, end.gateway_background_cpu_s, idle_start.gateway_background_cpu_s)
    return {
        "pg_transactions": round(cost(start.pg_transactions, end.pg_transactions, idle_start.pg_transactions), 2),
        "gateway_background_cpu_ms": round(1000 * background, 3),
        "wal_bytes": round(cost(start.wal_bytes, end.wal_bytes, idle_start.wal_bytes)),
        "redis_commands": round(sum(redis.values()), 2),
        "redis_by_command": redis,
        "message_calls": round(sum(messages.values()), 3),
        "message_calls_by_route": messages,
        "cpu_ms": cpu,
        "cpu_ms_total": round(sum(cpu.values()), 3),
    }
