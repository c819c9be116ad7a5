"""The light asyncio load generator: closed loop (peak), open loop at a fixed rate (latency), and a burst of one
charge per terminal (concurrency). Locust's own cost would distort peak figures on a 2-core machine, so these
figures come from here; `loadtests/locustfile.py` is for the realistic mix.

Run as a process of its own so that its CPU and sockets are its own:

    python -m loadtests.loadgen SPEC.json      # writes the result to SPEC.result.json

The spec: {"mode": "closed"|"open"|"burst", "base_url": "http://127.0.0.1:PORT", "target": "charge"|"hello",
"clients": [[terminal_id, operator_id, api_key], ...], "charge": {"service_code": ..., "amount": ..., "birth_date":
... (optional: every recipient's, for a service whose identity policy asks the civil registry)},
"duration_s", "warmup_s" (closed, open), "rate" (open), "ramp_s" (burst), "timeout_s", "local_host" (optional:
the source address, e.g. 127.0.0.2), "fallback_url" (optional: another gateway host; a client whose request met a
closed or cut connection sends its later requests there, as a load balancer's health check would route them),
"pause_after_failure_s" (optional, closed loop: how long a client waits after a failed request)}.
A charge counts as done when it answers 201 with status "completed"; anything else is counted by its kind.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import uvloop

from gateway.core.identifiers import complete_national_code


def recipient() -> dict:
    """A citizen drawn at random: one recipient for every charge would look, to oversight, like split charging at
    every office, and its detection work would grow with the square of each office's charges."""
    national_code = complete_national_code(f"{random.randrange(10**9):09d}")
    while len(set(national_code)) == 1:  # not a valid national code
        national_code = complete_national_code(f"{random.randrange(10**9):09d}")
    return {"name": "مریم احمدی", "national_code": national_code, "mobile": f"0912{random.randrange(10**7):07d}"}


@dataclass(frozen=True)
class Client:
    terminal_id: str
    operator_id: str
    api_key: str


def charge_body(client: Client, service_code: str, amount: int, **overrides) -> dict:
    body = {
        "terminal_id": client.terminal_id,
        "operator_id": client.operator_id,
        "service_code": service_code,
        "quantity": 1,
        "extras": [],
        "recipient": recipient(),
        "amount": amount,
        "payment_method": "card",
    }
    body.update(overrides)
    return body


class ChargeTarget:
    """POST /v1/charges with a fresh Idempotency-Key and a fresh citizen each time (a body kept per terminal would
    charge one citizen over and over, which oversight rightly reads as split charging)."""

    def __init__(
        self,
        base_url: str,
        service_code: str,
        amount: int,
        birth_date: str | None = None,
        fallback_url: str | None = None,
    ) -> None:
        self.url = base_url + "/v1/charges"
        self.service_code = service_code
        self.amount = amount
        self.birth_date = birth_date
        self.fallback_url = fallback_url + "/v1/charges" if fallback_url else None
        self.moved: set[str] = set()  # terminals whose host went away: they charge through the fallback

    def _body(self, client: Client) -> bytes:
        body = charge_body(client, self.service_code, self.amount)
        if self.birth_date is not None:
            body["recipient"]["birth_date"] = self.birth_date
        return orjson.dumps(body)

    async def call(self, session: aiohttp.ClientSession, client: Client) -> str | None:
        headers = {
            "Authorization": f"Bearer {client.api_key}",
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": "application/json",
        }
        url = self.fallback_url if client.terminal_id in self.moved else self.url
        try:
            async with session.post(url, data=self._body(client), headers=headers) as response:
                payload = await response.read()
        except aiohttp.ClientConnectionError:
            if self.fallback_url is not None:
                self.moved.add(client.terminal_id)
            raise
        if response.status == 201 and b'"status":"completed"' in payload:
            return None
        if response.status < 300:
            return f"{response.status}:{orjson.loads(payload).get('status')}"
        try:
            return f"{response.status}:{orjson.loads(payload)['error']['code']}"
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return str(response.status)


class HelloTarget:
    def __init__(self, base_url: str) -> None:
        self.url = base_url + "/hello"

    async def call(self, session: aiohttp.ClientSession, client: Client) -> str | None:
        async with session.get(self.url) as response:
            await response.read()
        return None if response.status == 200 else str(response.status)


SLOW_MS = 50  # the tail target at half of peak: answers slower than this are counted per second


@dataclass
class Tally:
    """Completions inside the measuring window: latencies of the successes, counts of the failures by kind."""

    window_start: float
    window_end: float
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    slow_by_second: Counter = field(default_factory=Counter)  # answers over SLOW_MS by second of the window
    ok_all: int = 0  # successes in and out of the window, for per-request costs over the whole run

    def record(self, started: float, finished: float, failure: str | None) -> None:
        self.ok_all += failure is None
        if not self.window_start <= finished <= self.window_end:
            return
        if failure is None:
            latency_ms = round((finished - started) * 1000, 3)
            self.latencies_ms.append(latency_ms)
            if latency_ms > SLOW_MS:
                self.slow_by_second[str(int(started - self.window_start))] += 1
        else:
            self.failures[failure] += 1

    def result(self, **extra) -> dict:
        return {
            "window_s": self.window_end - self.window_start,
            "ok": len(self.latencies_ms),
            "ok_all": self.ok_all,
            "failures": dict(self.failures),
            "latencies_ms": self.latencies_ms,
            "slow_by_second": dict(self.slow_by_second),
            "window_start_unix": round(time.time() - (time.monotonic() - self.window_start), 3),
            **extra,
        }


async def _attempt(target, session, client) -> str | None:
    try:
        return await target.call(session, client)
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError as error:
        return f"client:{type(error).__name__}"


async def closed_loop(
    target, session, clients: list[Client], duration: float, warmup: float, pause_after_failure: float = 0.0
) -> dict:
    """Each client sends its next request as soon as the previous one answers (or `pause_after_failure` seconds
    after a failed one)."""
    now = time.monotonic
    start = now()
    tally = Tally(start + warmup, start + warmup + duration)

    async def client_loop(client: Client) -> None:
        while (started := now()) < tally.window_end:
            failure = await _attempt(target, session, client)
            tally.record(started, now(), failure)
            if failure is not None and pause_after_failure:
                await asyncio.sleep(pause_after_failure)

    await asyncio.gather(*(client_loop(client) for client in clients))
    return tally.result(clients=len(clients))


async def open_loop(target, session, clients: list[Client], rate: float, duration: float, warmup: float) -> dict:
    """Requests start on a fixed schedule, each on a free terminal; latency counts from the scheduled moment,
    so a slow answer delays nobody's measurement (no coordinated omission)."""
    now = time.monotonic
    free: asyncio.Queue[Client] = asyncio.Queue()
    for client in clients:
        free.put_nowait(client)
    start = now()
    tally = Tally(start + warmup, start + warmup + duration)
    tasks: set[asyncio.Task] = set()
    late = 0

    async def one(scheduled: float) -> None:
        nonlocal late
        client = await free.get()
        if now() - scheduled > 0.005:
            late += 1
        try:
            failure = await _attempt(target, session, client)
        finally:
            free.put_nowait(client)
        tally.record(scheduled, now(), failure)

    sent = 0
    while (scheduled := start + sent / rate) < tally.window_end:
        delay = scheduled - now()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
    if tasks:
        await asyncio.gather(*tasks)
    return tally.result(rate=rate, started_late=late, clients=len(clients))


async def burst(target, session, clients: list[Client], ramp: float) -> dict:
    """One request per client, their starts spread evenly over `ramp` seconds; all are awaited."""
    now = time.monotonic
    start = now()
    tally = Tally(start, float("inf"))
    in_flight = peak = 0

    async def one(index: int) -> None:
        nonlocal in_flight, peak
        await asyncio.sleep(max(0.0, start + ramp * index / len(clients) - now()))
        in_flight += 1
        peak = max(peak, in_flight)
        started = now()
        try:
            failure = await _attempt(target, session, clients[index])
        finally:
            in_flight -= 1
        tally.record(started, now(), failure)

    await asyncio.gather(*(one(index) for index in range(len(clients))))
    tally.window_end = now()
    return tally.result(clients=len(clients), max_in_flight=peak)


async def run(spec: dict) -> dict:
    """The spec's load; `cpu_s` is the generator's own CPU while it ran (start-up excluded)."""
    started = time.process_time()
    result = await _run(spec)
    result["cpu_s"] = time.process_time() - started
    return result


async def _run(spec: dict) -> dict:
    clients = [Client(*entry) for entry in spec["clients"]]
    base_url = spec["base_url"]
    if spec["target"] == "hello":
        target = HelloTarget(base_url)
    else:
        charge = spec["charge"]
        target = ChargeTarget(
            base_url, charge["service_code"], charge["amount"], charge.get("birth_date"), spec.get("fallback_url")
        )
    # A source address of its own gives each generator the whole ephemeral port range (28,000 ports here) for
    # its connections to the one gateway address.
    local_addr = (spec["local_host"], 0) if spec.get("local_host") else None
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, local_addr=local_addr)
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout_s", 30))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, skip_auto_headers=["User-Agent"]) as session:
        mode = spec["mode"]
        if mode == "closed":
            pause = spec.get("pause_after_failure_s", 0.0)
            return await closed_loop(target, session, clients, spec["duration_s"], spec.get("warmup_s", 0), pause)
        if mode == "open":
            return await open_loop(target, session, clients, spec["rate"], spec["duration_s"], spec.get("warmup_s", 0))
        if mode == "burst":
            return await burst(target, session, clients, spec.get("ramp_s", 0))
        raise ValueError(f"unknown mode {mode!r}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m loadtests.loadgen SPEC.json")
    spec_path = Path(args[0])
    result = uvloop.run(run(orjson.loads(spec_path.read_bytes())))
    result_path(spec_path).write_bytes(orjson.dumps(result))
    return 0


def result_path(spec_path: Path) -> Path:
    return spec_path.with_suffix(".result.json")


if __name__ == "__main__":
    sys.exit(main())
