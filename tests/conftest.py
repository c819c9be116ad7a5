"""The whole path: a fresh database on the real PostgreSQL, real Redis, one simulator process per demo PSP, and the
gateway application served on a real socket. `make test` provides DATABASE_URL and REDIS_URL (embedded servers).

Each folder of tests under tests/ gets a stack of its own (`stack`: its database and PSP simulators, and everything
built on them), shared by the tests of that folder: what one folder's tests charge, refuse or reconcile never reaches
another folder's assertions about a day, an office or a ledger. Pytest keeps one instance of each session fixture per
folder, and the folder shows in each test's id."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest

from gateway.access.store import create_api_key
from gateway.core.registry import parse_registry
from gateway.platform.config import PROJECT_ROOT, Settings
from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from gateway.registry.store import save_registry
from gateway.registry.tariff_approvals import read_approver_keys
from gateway.registry.tariff_files import load_tariff_documents
from gateway.registry.tariff_store import save_tariff_documents
from receipts.keys_files import create_key
from simulators.devstack.sample_approvals import sign_sample_approvals
from simulators.psp.psp_host import simulator_options
from tests.identity.support import InquiryControl
from tests.messaging.support import start_process, stop_process
from tests.redis_round_trips import RoundTrips
from tests.simulators.psp_support import SimulatorControl, start_simulator
from tests.stack import DEMO_REGISTRY, served

TESTS = Path(__file__).resolve().parent


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the tests with `make test`, or set it to a real server", returncode=2)
    return value


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" in metafunc.fixturenames:
        folder = Path(metafunc.definition.path).relative_to(TESTS).parts[0]
        metafunc.parametrize("stack", [folder], indirect=True, scope="session")


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> str:
    """The folder of tests the stack serves."""
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(stack):
    """A database of its own on the configured server, dropped afterwards."""
    server_url = _required("DATABASE_URL")
    name = f"pishkhan_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    await apply_migrations(url)
    yield url
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
def redis_url():
    return _required("REDIS_URL")


@pytest.fixture(scope="session")
def sample_approvals(tmp_path_factory) -> tuple[Path, Path]:
    """The demo tariff approvals signed by the sample approver key: (their directory, the approver keys file)."""
    return sign_sample_approvals(PROJECT_ROOT / "tariff_tables", tmp_path_factory.mktemp("sample-approver"))


@pytest.fixture(scope="session")
async def db(database_url, sample_approvals):
    conn = await connect(database_url)
    registry = parse_registry(tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8")))
    await save_registry(conn, registry, str(DEMO_REGISTRY))
    tariff_dir, approver_keys = sample_approvals
    await save_tariff_documents(conn, load_tariff_documents(tariff_dir), read_approver_keys(approver_keys))
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
def demo_registry():
    return tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def psp_hosts(stack, demo_registry):
    hosts = {psp_id: start_simulator(*simulator_options(psp_id, psp)) for psp_id, psp in demo_registry["psps"].items()}
    yield hosts
    for host in hosts.values():
        host.stop()


@pytest.fixture(scope="session")
async def http_session():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def sims(psp_hosts, http_session) -> dict[str, SimulatorControl]:
    return {psp_id: SimulatorControl(host, http_session) for psp_id, host in psp_hosts.items()}


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("signing-keys")
    create_key(directory)
    return directory


@pytest.fixture(scope="session")
def settings(database_url, redis_url, psp_hosts, key_dir, sample_approvals) -> Settings:
    endpoints = ",".join(f"{psp_id}=127.0.0.1:{host.port}" for psp_id, host in psp_hosts.items())
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        key_dir=key_dir,
        tariff_dir=sample_approvals[0],
        approver_keys=sample_approvals[1],
        psp_endpoints=endpoints,
        psp_timeout_s=2.0,
        purchase_timeout_s=3.0,
        recovery_grace_s=5.0,
        recovery_interval_s=0.2,
        registry_refresh_s=0.5,
        run_workers=False,
        public_rate_limit_per_minute=0,  # many tests call the public routes from one address
    )


@pytest.fixture(scope="session")
async def gateway(settings, db, http_session):
    async with served(settings, http_session) as served_gateway:
        yield served_gateway


@pytest.fixture(scope="session")
async def keys(db):
    """API keys by name: one per demo terminal (`t:<terminal id>`), plus regulator and admin."""
    cache: dict[str, str] = {}

    async def key(name: str) -> str:
        if name not in cache:
            role, _, ident = name.partition(":")
            role = {"t": "terminal", "a": "agency"}.get(role, role)
            cache[name] = await create_api_key(
                db,
                role=role,
                terminal_id=ident if role == "terminal" else None,
                agency_id=ident if role == "agency" else None,
                label="test",
            )
        return cache[name]

    return key


# The identity inquiry's simulators (civil registry, Shahkar), started when a test asks for them.
@pytest.fixture(scope="session")
def civil_registry_url() -> Iterator[str]:
    process, url = start_process("simulators.civil_registry")
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
def shahkar_url() -> Iterator[str]:
    process, url = start_process("simulators.shahkar")
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
async def control_session() -> aiohttp.ClientSession:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


@pytest.fixture
async def registry(control_session, civil_registry_url) -> InquiryControl:
    control = InquiryControl(control_session, civil_registry_url)
    await control.reset()
    return control


@pytest.fixture
async def shahkar(control_session, shahkar_url) -> InquiryControl:
    control = InquiryControl(control_session, shahkar_url)
    await control.reset()
    return control


@pytest.fixture
def reversal_windows_closed(gateway, monkeypatch):
    """The refund path sees every PSP's reversal window as closed (length zero), as it would for a charge hours old.
    The charge itself stays as the PSP knows it: its creation time is how the PSP's host finds the purchase."""
    registry = gateway.services.refunds.state.registry
    closed = {
        psp_id: dataclasses.replace(
            psp, capabilities=dataclasses.replace(psp.capabilities, reversal_window=timedelta(0))
        )
        for psp_id, psp in registry.psps.items()
    }
    monkeypatch.setattr(
        gateway.services.refunds, "state", SimpleNamespace(registry=dataclasses.replace(registry, psps=closed))
    )


@pytest.fixture
def redis_round_trips(monkeypatch) -> RoundTrips:
    """Counts this process's Redis round trips between `start()` and `stop()`."""
    trips = RoundTrips()
    trips.patch(monkeypatch)
    return trips
