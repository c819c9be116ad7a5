"""The whole path: a fresh database on the real PostgreSQL, real Redis, one simulator process per demo PSP, and the
gateway application served on a real socket. `make test` provides DATABASE_URL and REDIS_URL (embedded servers)."""

from __future__ import annotations

import os
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from gateway.access.store import create_api_key
from gateway.core.registry import parse_registry
from gateway.core.tariffs import SOURCE_KEY
from gateway.platform.config import PROJECT_ROOT, Settings
from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from gateway.registry.store import save_registry
from gateway.registry.tariff_files import load_tariff_documents
from gateway.registry.tariff_store import save_tariff_documents
from gateway.web.app import create_app
from receipts.keys_files import create_key
from simulators.psp.psp_host import simulator_options
from tests.psp.sim_support import SimulatorControl, start_simulator

DEMO_REGISTRY = PROJECT_ROOT / "gateway" / "registry" / "demo.toml"


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the tests with `make test`, or set it to a real server", returncode=2)
    return value


@pytest.fixture(scope="session")
async def database_url():
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
async def db(database_url):
    conn = await connect(database_url)
    registry = parse_registry(tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8")))
    await save_registry(conn, registry, str(DEMO_REGISTRY))
    documents = load_tariff_documents(PROJECT_ROOT / "tariff_tables")
    await save_tariff_documents(conn, [(d["approval"]["reference"], d[SOURCE_KEY], d) for d in documents])
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
def demo_registry():
    return tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def psp_hosts(demo_registry):
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
def settings(database_url, redis_url, psp_hosts, key_dir) -> Settings:
    endpoints = ",".join(f"{psp_id}=127.0.0.1:{host.port}" for psp_id, host in psp_hosts.items())
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        key_dir=key_dir,
        psp_endpoints=endpoints,
        psp_timeout_s=2.0,
        purchase_timeout_s=3.0,
        recovery_grace_s=5.0,
        recovery_interval_s=0.2,
        registry_refresh_s=0.5,
        run_workers=False,
    )


@dataclass
class Gateway:
    url: str
    session: aiohttp.ClientSession
    app: object

    @property
    def services(self):
        from gateway.web.context import SERVICES

        return self.app[SERVICES]

    async def request(
        self, method: str, path: str, *, key: str | None = None, json=None, data=None, headers: dict | None = None
    ) -> tuple[int, object]:
        all_headers = dict(headers or {})
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        async with self.session.request(method, self.url + path, json=json, data=data, headers=all_headers) as response:
            body = await response.read()
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, body

    async def charge(self, key: str, body: dict, idempotency_key: str | None = None) -> tuple[int, dict]:
        return await self.request(
            "POST", "/v1/charges", key=key, json=body, headers={"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        )


@pytest.fixture(scope="session")
async def gateway(settings, db, http_session):
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    yield Gateway(str(server.make_url("")).rstrip("/"), http_session, server.app)
    await server.close()


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


def charge_body(
    terminal_id: str = "10000001",
    operator_id: str = "op-11",
    service_code: str = "1101",
    amount: int = 700_000,
    **overrides,
) -> dict:
    body = {
        "terminal_id": terminal_id,
        "operator_id": operator_id,
        "service_code": service_code,
        "quantity": 1,
        "extras": [],
        "recipient": {"name": "علی رضایی", "national_code": "0012345679", "mobile": "09121234567"},
        "amount": amount,
        "payment_method": "card",
    }
    body.update(overrides)
    return body
