"""Outbox delivery against the whole path: real charges through the gateway and the PSP simulators, the SMS centre
and Iran Poosheh simulators as processes, and dispatchers in this process or in their own."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator

import pytest

from gateway.messaging.outbox import OutboxWorkers
from gateway.platform.config import PROJECT_ROOT, Settings
from gateway.platform.db import create_pool
from receipts.keys_files import load_keyring
from tests.messaging.outbox.support import TERMINAL, Recipient, body_for, new_recipient, outbox_process_env


@pytest.fixture
def completed_charges(gateway, keys):
    """Makes `n` completed charges, each for a recipient of its own; returns [(charge, recipient)]."""

    async def make(n: int) -> list[tuple[dict, Recipient]]:
        made = []
        for _ in range(n):
            recipient = new_recipient()
            status, charge = await gateway.charge(await keys(f"t:{TERMINAL}"), body_for(recipient))
            assert status == 201, charge
            made.append((charge, recipient))
        return made

    return make


@pytest.fixture(scope="session")
async def pool(database_url):
    pool = await create_pool(database_url, 6)
    yield pool
    await pool.close()


@pytest.fixture
def outbox_settings(settings, sms_centre, inbox) -> Settings:
    """Short timeouts, leases and delays, pointed at this session's simulators."""
    return dataclasses.replace(
        settings,
        sms_provider="magfa",
        sms_url=sms_centre.base_url,
        poosheh_url=inbox.base_url,
        messaging_timeout_s=0.5,
        outbox_batch=50,
        outbox_max_attempts=5,
        outbox_lease_s=2.0,
        outbox_retry_base_s=0.05,
        outbox_interval_s=0.05,
        delivery_poll_s=0.05,
    )


@pytest.fixture
async def workers_for(pool, key_dir):
    """OutboxWorkers in this process, closed after the test."""
    made: list[OutboxWorkers] = []
    keyring = load_keyring(key_dir)

    def build(settings: Settings) -> OutboxWorkers:
        made.append(OutboxWorkers(settings, pool, lambda: keyring))
        return made[-1]

    yield build
    for workers in made:
        await workers.close()


@pytest.fixture
def outbox_process() -> Iterator:
    """Starts `pishkhan outbox run [ARGS]` processes; any still running at the end are killed."""
    started: list[subprocess.Popen] = []

    def start(settings: Settings, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "outbox", "run", *args],
            env=outbox_process_env(settings),
            cwd=PROJECT_ROOT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
