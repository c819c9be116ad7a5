"""Outbox delivery against the whole path: real charges through the gateway and the PSP simulators, the SMS centre
and Iran Poosheh simulators as processes, and dispatchers in this process or in their own."""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.core.identifiers import InvalidIdentifier, parse_national_code
from gateway.messaging.outbox import OutboxWorkers
from gateway.platform.config import PROJECT_ROOT, Settings
from gateway.platform.db import create_pool
from receipts.keys_files import load_keyring
from tests.integration.conftest import *  # noqa: F403
from tests.integration.conftest import charge_body
from tests.messaging.conftest import *  # noqa: F403

TERMINAL = "10000001"

# A fresh subscriber range per session, so no two charges of any test share a mobile or a national code.
_subscribers = itertools.count(random.randrange(10_000_000, 90_000_000, 100_000))


@dataclass(frozen=True)
class Recipient:
    mobile: str
    national_code: str

    @property
    def inbox(self) -> str:
        return "iran" + self.national_code


def _valid_national_code(first_nine: str) -> str:
    for check_digit in "0123456789":
        try:
            return parse_national_code(first_nine + check_digit)
        except InvalidIdentifier:
            continue
    raise AssertionError(f"no check digit completes {first_nine}")


def new_recipient() -> Recipient:
    number = next(_subscribers)
    return Recipient(mobile=f"0935{number % 10_000_000:07d}", national_code=_valid_national_code(f"1{number:08d}"))


def body_for(recipient: Recipient, **overrides) -> dict:
    return charge_body(
        recipient={"name": "مریم احمدی", "national_code": recipient.national_code, "mobile": recipient.mobile},
        **overrides,
    )


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


def outbox_process_env(settings: Settings) -> dict:
    """The environment of a `pishkhan outbox run` process with these settings."""
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PISHKHAN_KEY_DIR": str(settings.key_dir),
        "PISHKHAN_SMS_PROVIDER": settings.sms_provider,
        "PISHKHAN_SMS_URL": settings.sms_url,
        "PISHKHAN_POOSHEH_URL": settings.poosheh_url,
        "PISHKHAN_MESSAGING_TIMEOUT_S": str(settings.messaging_timeout_s),
        "PISHKHAN_OUTBOX_BATCH": str(settings.outbox_batch),
        "PISHKHAN_OUTBOX_MAX_ATTEMPTS": str(settings.outbox_max_attempts),
        "PISHKHAN_OUTBOX_LEASE_S": str(settings.outbox_lease_s),
        "PISHKHAN_OUTBOX_RETRY_BASE_S": str(settings.outbox_retry_base_s),
        "PISHKHAN_OUTBOX_INTERVAL_S": str(settings.outbox_interval_s),
        "PISHKHAN_DELIVERY_POLL_S": str(settings.delivery_poll_s),
        "PISHKHAN_LOG_LEVEL": "WARNING",
    }


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


async def outbox_rows(db, charges: list[dict], channel: str) -> dict[str, dict]:
    """The outbox row of `channel` for each charge, by charge id."""
    rows = await db.fetch(
        "SELECT * FROM outbox WHERE charge_id = ANY($1::uuid[]) AND channel = $2",
        [uuid.UUID(charge["id"]) for charge in charges],
        channel,
    )
    return {str(row["charge_id"]): dict(row) for row in rows}
