"""PostgreSQL restarted and Valkey killed and restarted while terminals charge: every answer is a charge, a refusal
or 503 `service_unavailable` with Retry-After naming the store (never a 500, never a dropped connection), /readyz
names the store that is down, nothing is lost or charged twice, and the terminals charge again within seconds of
the store's return.

The gateway here has stores of its own (an embedded PostgreSQL and Valkey in a temporary folder), so the outage
touches no other test."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import signal
import tomllib
import uuid

import aiohttp
import pytest

from gateway.access.store import create_api_key
from gateway.charging.due_passes import run_due_passes
from gateway.core.registry import parse_registry
from gateway.platform.config import PROJECT_ROOT
from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from gateway.registry.store import save_registry
from gateway.registry.tariff_approvals import read_approver_keys
from gateway.registry.tariff_files import load_tariff_documents
from gateway.registry.tariff_store import save_tariff_documents
from simulators.devstack.embedded import EmbeddedStack, free_port
from tests.money_safety.support import FINAL_HTTP, RECOVERY_GRACE_S, assert_conserved, drive_recovery, new_body, now
from tests.stack import DEMO_REGISTRY, served

TERMINALS = ("10000001", "10000002", "10000003", "10000006")
# A charge cut off by the outage after its push holds its terminal until recovery resolves it (after the recovery
# grace): terminals are free again within that grace and a few recovery passes.
RECOVERED_WITHIN_S = RECOVERY_GRACE_S + 6.0


@pytest.fixture
async def own_stores(sample_approvals):
    # Under the project (as `make test`'s own stores are): the servers may run as another user, who cannot enter
    # pytest's private temporary folders.
    root = PROJECT_ROOT / "var" / "test" / f"outage-{uuid.uuid4().hex[:8]}"
    stack = EmbeddedStack(root, free_port(), free_port(), persistent=True)
    await asyncio.to_thread(stack.start)
    try:
        await apply_migrations(stack.database_url)
        conn = await connect(stack.database_url)
        registry = parse_registry(tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8")))
        await save_registry(conn, registry, str(DEMO_REGISTRY))
        tariff_dir, approver_keys = sample_approvals
        await save_tariff_documents(conn, load_tariff_documents(tariff_dir), read_approver_keys(approver_keys))
        keys = {t: await create_api_key(conn, role="terminal", terminal_id=t, label="outage") for t in TERMINALS}
        await conn.close()
        yield stack, keys
    finally:
        await asyncio.to_thread(stack.stop)
        shutil.rmtree(root, ignore_errors=True)


class Counter:
    """One POS client per terminal, charging card after card; a 503 or a busy terminal is retried with the same
    Idempotency-Key after Retry-After (shortened here), as a counter's client does. Every answer is kept."""

    def __init__(self, gateway, keys: dict[str, str]) -> None:
        self.gateway = gateway
        self.keys = keys
        self.answers: list[tuple[str, int, dict]] = []  # (terminal, status, body), every attempt
        self.charges: list[tuple[str, str, dict, int, dict]] = []  # (terminal, key, body, final status, answer)
        self.dropped = 0
        self._stop = asyncio.Event()

    async def run(self, terminal_id: str) -> None:
        while not self._stop.is_set():
            body, idem = new_body(terminal_id), uuid.uuid4().hex
            while True:
                try:
                    status, answer = await self.gateway.charge(self.keys[terminal_id], body, idem)
                except (aiohttp.ClientError, TimeoutError):
                    self.dropped += 1
                    await asyncio.sleep(0.2)
                    continue
                self.answers.append((terminal_id, status, answer))
                if status == 503 or (status == 409 and answer["error"]["code"] == "terminal_busy"):
                    await asyncio.sleep(0.2)
                    continue
                self.charges.append((terminal_id, idem, body, status, answer))
                break

    async def until_each_terminal_charges(self, since_answers: int, timeout: float) -> float:
        """Seconds until every terminal had a charge completed after answer number `since_answers`."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while {t for t, status, _ in self.answers[since_answers:] if status == 201} != set(TERMINALS):
            recent = [(t, status) for t, status, _ in self.answers[since_answers:]][-20:]
            assert loop.time() - started < timeout, f"terminals not charging again: {recent}"
            await asyncio.sleep(0.1)
        return loop.time() - started


async def _readyz(gateway) -> tuple[int, dict]:
    return await gateway.request("GET", "/readyz")


async def _outage(stack, server: str, signum: int, down_s: float, gateway, counter: Counter) -> None:
    await asyncio.to_thread(stack.stop_server, server, signum)
    await asyncio.sleep(down_s / 2)
    status, ready = await _readyz(gateway)
    name = "postgres" if server == "postgres" else "redis"
    assert status == 503 and ready["down"] == [name], ready
    await asyncio.sleep(down_s / 2)
    await asyncio.to_thread(stack.start_server, server)
    mark = len(counter.answers)
    took = await counter.until_each_terminal_charges(mark, timeout=RECOVERED_WITHIN_S + 10)
    assert took < RECOVERED_WITHIN_S, f"terminals usable {took:.1f} s after {name} came back"
    assert (await _readyz(gateway))[0] == 200


@pytest.mark.parametrize(
    ("postgres_down_s", "valkey_down_s"),
    [(3.0, 2.0), pytest.param(40.0, 20.0, marks=[pytest.mark.slow, pytest.mark.timeout(600)])],
)
async def test_postgres_restart_and_valkey_kill_under_a_charge_stream(
    own_stores, settings, http_session, psp_hosts, postgres_down_s, valkey_down_s
):
    stack, keys = own_stores
    since = now()
    own = dataclasses.replace(settings, database_url=stack.database_url, redis_url=stack.redis_url, redis_timeout_s=0.5)
    async with served(own, http_session) as gateway:
        counter = Counter(gateway, keys)
        recovery = asyncio.create_task(
            run_due_passes(
                gateway.services.pool, {"charges": gateway.services.recovery}, interval=own.recovery_interval_s
            )
        )
        clients = [asyncio.create_task(counter.run(t)) for t in TERMINALS]
        try:
            await counter.until_each_terminal_charges(0, timeout=20)
            await _outage(stack, "postgres", signal.SIGINT, postgres_down_s, gateway, counter)
            await _outage(stack, "redis", signal.SIGKILL, valkey_down_s, gateway, counter)
        finally:
            counter._stop.set()
            await asyncio.gather(*clients)
            recovery.cancel()

        statuses = {status for _, status, _ in counter.answers}
        assert not {s for s in statuses if s >= 500} - {503, 502}, statuses
        unavailable = [answer for _, status, answer in counter.answers if status == 503]
        assert unavailable, "the outages were seen"
        assert {a["error"]["details"]["dependency"] for a in unavailable} == {"postgres", "redis"}
        assert {a["error"]["code"] for a in unavailable} == {"service_unavailable"}
        assert counter.dropped == 0, "every request was answered"

        async with aiohttp.ClientSession() as session, session.get(gateway.url + "/metrics") as response:
            metrics = await response.text()
        assert 'pishkhan_store_unavailable_total{store="postgres"}' in metrics

        conn = await connect(stack.database_url)
        try:
            await drive_recovery(gateway.services.recovery, conn, since)
            for terminal_id, idem, body, status, answer in counter.charges:
                again = await gateway.charge(keys[terminal_id], body, idem)
                assert again[0] in FINAL_HTTP and (status not in FINAL_HTTP or again == (status, answer)), again
            charged = await conn.fetchval("SELECT count(*) FROM charges WHERE created_at >= $1", since)
            answered = {a["id"] for _, s, a in counter.answers if s in (201, 202)}
            assert charged == len(answered), "every stored charge was answered to its client"
            await assert_conserved(conn, psp_hosts, since)
        finally:
            await conn.close()
