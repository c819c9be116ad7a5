"""Two gateway hosts, one killed (phase `two_hosts`): gateway hosts are interchangeable (docs/scaling.md).

Two `pishkhan serve` instances on different ports, each with its own serving processes and background process,
share the stack's PostgreSQL and Valkey; together they run as many serving processes as the single gateway of the
other phases. Three closed-loop runs at the peak's client count, half the clients on each host:

1. before: both hosts serving;
2. kill: halfway through the run (warmup and half the measured time after its first charge) host B is killed
   with SIGKILL (every process of it at once); a client whose request met a closed or cut connection sends its
   later ones to host A, as a load balancer's health check would route them, and waits a moment after a failed
   request (its terminal may still be held by the charge the dead host had in flight, until host A's recovery
   resolves that charge);
3. after: host A alone, once every charge the dead host left is final and every terminal it took without storing
   a charge yet may be taken over (`UNSTORED_HOLDER_GRACE_S` after the kill; before that, such a terminal answers
   409 terminal_busy, as it should).

Then, for every charge of the phase: the conservation check (`pishkhan check-conservation`: every approval a
completed charge or a reversal, none held twice), no outbox message lost (every completed charge's SMS and Iran
Poosheh rows delivered), and no message dispatched twice (the SMS centre simulator's handsets hold each completed
charge's confirmation exactly once).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
import asyncpg

from gateway.charging.service import UNSTORED_HOLDER_GRACE_S
from loadtests.fleet import spread_over_offices
from loadtests.measure import run_generators, split, summarise
from loadtests.stack import RESOLVED_WITHIN_S, start_gateway_host
from simulators.devstack.embedded import free_port

if TYPE_CHECKING:
    from loadtests.bench import Bench

# The hosts take over a dead host's claimed messages and poll delivery reports quickly, so the phase can wait for
# every message in moments (the defaults are 60 s and 30 s).
QUICK_MESSAGES = {"PISHKHAN_OUTBOX_LEASE_S": "15", "PISHKHAN_DELIVERY_POLL_S": "2"}
PAUSE_AFTER_FAILURE_S = 0.5
MESSAGES_WITHIN_S = 180
_TRACKING_CODE = re.compile(r"(?<![0-9])[0-9]{18}(?![0-9])")

Settle = Callable[[str, float], Awaitable[int]]
Conservation = Callable[..., dict]


async def measure(bench: Bench, clients: int, settle: Settle, conservation: Conservation) -> dict:
    """The phase, after which the stack's own gateway serves again. `settle(database_url, timeout)` waits until no
    charge is pending; `conservation(stack, since, extra_args)` runs the conservation check."""
    stack, args = bench.stack, bench.args
    await settle(stack.database_url, RESOLVED_WITHIN_S)
    stack.stop_gateway()
    workers = max(1, args.workers // 2)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    since = datetime.now(UTC)
    hosts = [
        await start_gateway_host(
            f"gateway-{name}",
            stack.gateway_env(port, workers, QUICK_MESSAGES),
            workers,
            stack.root / f"gateway-{name}.log",
        )
        for name, port in zip("ab", ports, strict=True)
    ]
    try:
        terminals = bench.clients(spread_over_offices(stack.terminals, clients))
        halves = split(terminals, 2)
        before = summarise(await _closed(bench, halves, urls))
        kill_at = args.warmup + args.duration / 2
        load_from = datetime.now(UTC)
        during_load = asyncio.create_task(_closed(bench, halves, urls))
        await _first_charge_since(stack.database_url, load_from)  # the generators take a moment to start
        await asyncio.sleep(kill_at)
        hosts[1].kill()
        killed_at = time.monotonic()
        during = summarise(await during_load)
        started = time.monotonic()
        pending = await settle(stack.database_url, RESOLVED_WITHIN_S)
        resolved_s = time.monotonic() - started
        await asyncio.sleep(max(0.0, killed_at + UNSTORED_HOLDER_GRACE_S - time.monotonic()))
        after = summarise(await _closed(bench, [terminals], urls[:1]))
        messages = await _messages(stack.database_url, stack.env["PISHKHAN_SMS_URL"], since)
    finally:
        for host in hosts:
            host.stop()
        await stack.start_gateway(args.workers, {})
    return {
        "hosts": len(hosts),
        "workers_per_host": workers,
        "clients": clients,
        "kill_at_s": round(kill_at, 1),
        "before": before,
        "during": during,
        "pending_after_kill": pending,
        "resolved_after_kill_s": round(resolved_s, 1),
        "after": after,
        "ratio": round(after["rps"] / before["rps"], 3) if before["rps"] and after["rps"] else None,
        "messages": messages,
        "conservation": await asyncio.to_thread(conservation, stack, since.isoformat(), args.conservation_arg),
    }


async def _closed(bench: Bench, parts: list[list[list[str]]], urls: list[str]) -> dict:
    """One closed-loop generator per part, the part's clients on `urls[i]`, falling back to the next host."""
    args = bench.args
    specs = [
        bench.spec(
            "closed",
            part,
            urls[index],
            duration_s=args.duration,
            warmup_s=args.warmup,
            timeout_s=60,
            pause_after_failure_s=PAUSE_AFTER_FAILURE_S,
            **({"fallback_url": urls[(index + 1) % len(urls)]} if len(urls) > 1 else {}),
        )
        for index, part in enumerate(parts)
    ]
    return await run_generators(specs, bench.work)


async def _first_charge_since(database_url: str, since: datetime, timeout: float = 60) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM charges WHERE created_at >= $1)", since):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no charge arrived within {timeout:.0f} s of starting the load")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _messages(database_url: str, sms_url: str, since: datetime) -> dict:
    """Once no outbox row of the phase's charges waits to be sent or for its report: the rows by status, the
    completed charges without a delivered SMS row, and how often each completed charge's SMS reached a handset."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + MESSAGES_WITHIN_S
        waiting_query = (
            "SELECT count(*) FROM outbox o JOIN charges c ON c.id = o.charge_id "
            "WHERE c.created_at >= $1 AND o.status IN ('pending', 'sent')"
        )
        while await conn.fetchval(waiting_query, since) and time.monotonic() < deadline:
            await asyncio.sleep(1)
        rows = await conn.fetch(
            "SELECT o.channel, o.status, count(*) AS n FROM outbox o JOIN charges c ON c.id = o.charge_id "
            "WHERE c.created_at >= $1 GROUP BY o.channel, o.status",
            since,
        )
        completed = {
            row["tracking_code"]
            for row in await conn.fetch(
                "SELECT tracking_code FROM charges WHERE created_at >= $1 AND status = 'completed'", since
            )
        }
        without_sms = await conn.fetchval(
            "SELECT count(*) FROM charges c WHERE c.created_at >= $1 AND c.status = 'completed' AND NOT EXISTS "
            "(SELECT 1 FROM outbox o WHERE o.charge_id = c.id AND o.channel = 'sms' AND o.status = 'delivered')",
            since,
        )
    finally:
        await conn.close()
    async with aiohttp.ClientSession() as session, session.get(f"{sms_url}/control/messages") as response:
        response.raise_for_status()
        handsets = (await response.json())["messages"]
    received = Counter(code for message in handsets for code in set(_TRACKING_CODE.findall(message["text"])))
    times = Counter(received[code] for code in completed)
    return {
        "outbox_by_status": {f"{row['channel']}:{row['status']}": row["n"] for row in rows},
        "completed_charges": len(completed),
        "completed_without_delivered_sms": without_sms,
        "sms_received_once": times[1],
        "sms_never_received": times[0],
        "sms_received_more_than_once": sum(count for seen, count in times.items() if seen > 1),
    }


def verdict(phase: dict) -> bool:
    """Conservation clean, no outbox message lost and none dispatched twice."""
    messages = phase["messages"]
    return (
        phase["conservation"].get("clean") is True
        and messages["completed_charges"] > 0
        and messages["completed_without_delivered_sms"] == 0
        and messages["sms_never_received"] == 0
        and messages["sms_received_more_than_once"] == 0
        and not any(
            status.endswith((":pending", ":sent", ":dead", ":failed")) for status in messages["outbox_by_status"]
        )
    )


def targets(results: dict) -> list[dict]:
    phase = results.get("two_hosts")
    if not phase:
        return []
    messages = phase["messages"]
    return [
        {
            "target": "two gateway hosts, one killed under load",
            "goal": "conservation clean, no message lost or sent twice",
            "measured": f"conservation exit code {phase['conservation'].get('exit_code')}; "
            f"{messages['completed_charges']} completed charges: SMS once {messages['sms_received_once']}, "
            f"never {messages['sms_never_received']}, more than once {messages['sms_received_more_than_once']}",
            "met": verdict(phase),
            "note": f"throughput after / before the kill {phase['ratio']}",
        }
    ]


def markdown(results: dict) -> list[str]:
    phase = results.get("two_hosts")
    if not phase:
        return []
    rows = [
        ("both hosts", phase["before"]),
        ("host B killed halfway", phase["during"]),
        ("host A alone", phase["after"]),
    ]
    messages = phase["messages"]
    return [
        "",
        f"## Two gateway hosts ({phase['workers_per_host']} serving process"
        f"{'' if phase['workers_per_host'] == 1 else 'es'} each), one killed",
        "",
        "| run | charges/s | p50 ms | p99 ms | clients | failures |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {run['rps']} | {run['p50_ms']} | {run['p99_ms']} | {run['clients']} | {run['failures'] or 0} |"
            for name, run in rows
        ),
        "",
        f"Host B was killed {phase['kill_at_s']} s after the second run's first charge; the charges it left in "
        f"flight were final {phase['resolved_after_kill_s']} s after the run "
        f"(still pending: {phase['pending_after_kill']}). "
        f"Throughput of host A alone / both hosts: {phase['ratio']}. Outbox rows of the phase's charges by "
        f"status: {messages['outbox_by_status']}; completed charges {messages['completed_charges']}, without a "
        f"delivered SMS {messages['completed_without_delivered_sms']}; SMS at the handset once "
        f"{messages['sms_received_once']}, never {messages['sms_never_received']}, more than once "
        f"{messages['sms_received_more_than_once']}. Conservation check of the phase: exit code "
        f"{phase['conservation'].get('exit_code')}.",
    ]
