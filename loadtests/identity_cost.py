"""The identity inquiry's cost (phase `identity`): the peak and half-of-peak runs again, charging a service whose
policy requires the civil registry and Shahkar (docs/identity.md), beside the plain charge of the same run.

The two simulators answer at once for any recipient (`--population`, loadtests/stack.py), and every charge is for
a fresh citizen, so every charge asks both services (no cached answer): the inquiry's whole cost, the token
exchange aside, on every charge. The report sets the two side by side: peak, p99 at half of peak (target ≤ 50 ms)
and what one charge costs in CPU, PostgreSQL transactions and Redis commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from loadtests.stack import IDENTITY_SIMULATORS, BenchStack
from simulators.civil_registry import POPULATION_PERSON

if TYPE_CHECKING:
    from loadtests.bench import Bench

SERVICE_CODE = "2103"  # identity = "required" in gateway/registry/demo.toml, assigned to every fleet office
P99_TARGET_MS = 50


async def measure(bench: Bench, plain_peak: dict) -> dict:
    """Peak at the plain peak's client count, then half of its own sustained peak, charging SERVICE_CODE."""
    amount = await bench.quote_amount(SERVICE_CODE)
    bench.charge_fields = {
        "service_code": SERVICE_CODE,
        "amount": amount,
        "birth_date": POPULATION_PERSON["birth_date"],
    }
    try:
        calls_before = await _inquiries(bench.stack)
        peak = await bench.peak("identity", [plain_peak["clients"]])
        calls_after = await _inquiries(bench.stack)
        half = await bench.half_peak(peak["sustained_rps"] or 1.0)
    finally:
        bench.charge_fields = {}
    charges = max(peak["ok_all"], 1)
    return {
        "service_code": SERVICE_CODE,
        "amount": amount,
        "peak": peak,
        "half_peak": half,
        "inquiries_per_charge": {
            kind: round((calls_after[kind] - calls_before[kind]) / charges, 2) for kind in calls_after
        },
    }


async def _inquiries(stack: BenchStack) -> dict[str, int]:
    """Each inquiry simulator's count of inquiries answered so far (its control API)."""
    counts = {}
    async with aiohttp.ClientSession() as session:
        for kind, setting in IDENTITY_SIMULATORS:
            async with session.get(f"{stack.env[setting]}/control/calls") as response:
                response.raise_for_status()
                counts[kind] = (await response.json())["inquiries"]
    return counts


def targets(results: dict) -> list[dict]:
    identity = results.get("identity")
    if not identity:
        return []
    half = identity["half_peak"]
    p99 = half["p99_ms"]
    return [
        {
            "target": "p99 at half of peak, identity inquiry required",
            "goal": f"≤ {P99_TARGET_MS} ms",
            "measured": f"{p99} ms at {half['rate']} charges/s of service {identity['service_code']}",
            "met": p99 is not None and p99 <= P99_TARGET_MS and not half["failures"],
            "note": f"failures: {half['failures']}" if half["failures"] else "",
        }
    ]


def _cell(run: dict | None, *path: str) -> str:
    value: object = run
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return ""
        value = value[key]
    return str(value)


def markdown(results: dict) -> list[str]:
    """The report's section: the plain charge and the charge with the inquiry, side by side."""
    identity = results.get("identity")
    if not identity:
        return []
    plain, asked = results["peak"], identity["peak"]
    plain_half, asked_half = results.get("half_peak"), identity["half_peak"]
    rows = [
        ("peak charges/s (closed loop)", _cell(plain, "rps"), _cell(asked, "rps")),
        ("sustained charges/s", _cell(plain, "sustained_rps"), _cell(asked, "sustained_rps")),
        ("p50 / p99 ms at peak", f"{plain['p50_ms']} / {plain['p99_ms']}", f"{asked['p50_ms']} / {asked['p99_ms']}"),
        ("half of peak: charges/s", _cell(plain_half, "rate"), _cell(asked_half, "rate")),
        ("half of peak: p50 ms", _cell(plain_half, "p50_ms"), _cell(asked_half, "p50_ms")),
        ("half of peak: p99 ms", _cell(plain_half, "p99_ms"), _cell(asked_half, "p99_ms")),
        ("half of peak: failures", _cell(plain_half, "failures"), _cell(asked_half, "failures")),
    ]
    rows += [
        (
            f"CPU ms per charge: {part}",
            _cell(plain, "per_charge", "cpu_ms", part),
            _cell(asked, "per_charge", "cpu_ms", part),
        )
        for part in ("gateway", "postgres", "valkey", "identity_simulators", "psp_simulators", "load_generator")
    ]
    rows += [
        (
            "PostgreSQL transactions per charge",
            _cell(plain, "per_charge", "pg_transactions"),
            _cell(asked, "per_charge", "pg_transactions"),
        ),
        (
            "Redis commands per charge",
            _cell(plain, "per_charge", "redis_commands"),
            _cell(asked, "per_charge", "redis_commands"),
        ),
    ]
    asked_redis = asked.get("per_charge", {}).get("redis_by_command", {})
    per_service = ", ".join(f"{kind} {count}" for kind, count in identity["inquiries_per_charge"].items())
    return [
        "",
        f"## Identity inquiry (service {identity['service_code']}: civil registry and Shahkar required)",
        "",
        f"Every charge for a fresh recipient, both simulators answering at once; inquiries per charge: {per_service}. "
        "Redis commands of the charge with the inquiry: "
        + ", ".join(f"{name} {calls}" for name, calls in asked_redis.items())
        + ".",
        "",
        f"| per charge | plain ({results['charge']['service_code']}) | with the inquiry ({identity['service_code']}) |",
        "|---|---|---|",
        *(f"| {name} | {plain_value} | {asked_value} |" for name, plain_value, asked_value in rows),
    ]
