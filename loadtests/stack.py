"""The stack the benchmark runs against, started by the harness itself: embedded PostgreSQL and Valkey under
var/bench, the schema, the demo registry plus a generated fleet, the tariffs, a signing key, API keys for the
fleet's terminals, one PSP host simulator process per licensed PSP, the SMS centre and Iran Poosheh simulators,
and the gateway as `pishkhan serve` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from gateway.access.api_keys import generate_key
from gateway.platform.config import PROJECT_ROOT
from loadtests import database_statistics
from loadtests.fleet import FleetTerminal, demo_registry, licensed_psps, write_fleet_registry
from receipts.keys_files import create_key
from simulators.devstack.embedded import EmbeddedStack, free_port
from simulators.devstack.run import prepare_database

_PR_SET_PDEATHSIG = 1
ISO8583 = "iso8583-tcp"
# Cardholders answer at once here (no PIN delay), so a charge whose PSP answer went missing is given up on and
# handed to recovery sooner than in production, and the end of a run can wait for it: RESOLVED_WITHIN_S.
QUICK_RECOVERY = {"PISHKHAN_PURCHASE_TIMEOUT_S": "10", "PISHKHAN_RECOVERY_GRACE_S": "20"}
# A closed-loop client is a terminal charging as fast as the gateway answers, some 20 charges a second, where an
# office's terminal makes a few a minute: at the production limits (600 a minute a terminal) a run of 30 s at 32
# clients was mostly refused. The allowances are raised past any run's rate; every request is still counted.
UNREACHED_RATE_LIMITS = {
    "PISHKHAN_TERMINAL_RATE_LIMIT_PER_MINUTE": "10000000",
    "PISHKHAN_RATE_LIMIT_PER_MINUTE": "10000000",
}
RESOLVED_WITHIN_S = 20 + 60  # the grace, then recovery's inquiries and backoff


@dataclass
class ServiceProcess:
    """A process of the stack and its children (gateway workers, PostgreSQL backends)."""

    name: str
    process: subprocess.Popen

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to every process of the tree at once, as a host losing power would stop them."""
        for process in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.process.wait()

    def stop(self, timeout: float = 40) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM when the harness dies, so no gateway or simulator outlives a killed run."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_module(name: str, module: str, *args: str, env: dict, log_path: Path, stdout=None) -> ServiceProcess:
    """`python -m module args` from the project root. Call it from the main thread: the child is tied to the
    thread that started it."""
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=stdout or log,
        stderr=log,
        preexec_fn=_stop_with_parent,
    )
    log.close()
    return ServiceProcess(name, process)


def process_listening_on(port: int) -> psutil.Process | None:
    """The process listening on a local TCP port. It lists every socket on the machine: look it up once."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


def process_tree(root: psutil.Process | None) -> list[psutil.Process]:
    """`root` with its children (an embedded server's backends come and go)."""
    if root is None or not root.is_running():
        return []
    return [root, *root.children(recursive=True)]


async def wait_until_ready(url: str, service: ServiceProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if not service.alive():
                raise RuntimeError(f"{service.name} exited with code {service.process.returncode} during start-up")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{service.name} was not ready at {url} within {timeout:.0f} s")


@dataclass
class Simulators:
    """One PSP host simulator per licensed PSP, each appending its ledger to a JSON lines file, for the
    conservation check."""

    root: Path
    verify_deadlines_s: dict[str, int]
    protocols: dict[str, str]
    env: dict
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)

    def ledger_path(self, psp_id: str) -> Path:
        return self.root / "ledgers" / f"{psp_id}.jsonl"

    def start(self, pin_delay_ms: int) -> None:
        (self.root / "ledgers").mkdir(parents=True, exist_ok=True)
        for psp_id, deadline in self.verify_deadlines_s.items():
            port, control_port = self.ports.get(psp_id, (0, 0))
            # The simulator speaks ISO 8583 unless told the PSP's other protocol.
            protocol = self.protocols[psp_id]
            protocol_args = [] if protocol == ISO8583 else ["--protocol", protocol]
            service = start_module(
                psp_id,
                "simulators.psp.psp_host",
                "--psp-id",
                psp_id,
                "--iso-port",
                str(port),
                "--control-port",
                str(control_port),
                "--pin-delay-ms",
                str(pin_delay_ms),
                "--verify-deadline-s",
                str(deadline),
                "--ledger",
                str(self.ledger_path(psp_id)),
                *protocol_args,
                "--log-level",
                "WARNING",
                env=self.env,
                log_path=self.root / "simulators.log",
                stdout=subprocess.PIPE,
            )
            line = service.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the {psp_id} simulator exited with {service.process.wait()} before its ports")
            ports = json.loads(line)
            service.process.stdout.close()
            (port,) = (value for key, value in ports.items() if key != "control_port")
            self.ports[psp_id] = (port, ports["control_port"])
            self.processes.append(service)

    def stop(self) -> None:
        for service in self.processes:
            service.stop()
        self.processes.clear()

    async def set_pin_delay(self, terminals: list[FleetTerminal], ms: int) -> None:
        """Each terminal's cardholder takes `ms` to enter the PIN (the control API, 64 requests at a time)."""
        limit = asyncio.Semaphore(64)
        async with aiohttp.ClientSession() as session:

            async def one(terminal: FleetTerminal) -> None:
                control = self.ports[terminal.psp_id][1]
                async with (
                    limit,
                    session.post(
                        f"http://127.0.0.1:{control}/terminals/{terminal.terminal_id}/pin-delay", json={"ms": ms}
                    ) as response,
                ):
                    response.raise_for_status()

            await asyncio.gather(*(one(terminal) for terminal in terminals))

    async def finish_pin_entry(self, over_s: float) -> None:
        """Every cardholder still entering a PIN, at every simulator, finishes: in the order they began, spread
        over `over_s` seconds."""
        async with aiohttp.ClientSession() as session:

            async def one(control_port: int) -> None:
                async with session.post(
                    f"http://127.0.0.1:{control_port}/cardholders/finish", json={"over_ms": round(over_s * 1000)}
                ) as response:
                    response.raise_for_status()

            await asyncio.gather(*(one(control) for _, control in self.ports.values()))

    @property
    def endpoints(self) -> str:
        """PISHKHAN_PSP_ENDPOINTS for the gateway."""
        return ",".join(f"{psp_id}=127.0.0.1:{port}" for psp_id, (port, _) in sorted(self.ports.items()))

    def tree(self) -> list[psutil.Process]:
        return [p for service in self.processes for p in service.tree()]


MESSAGING_SIMULATORS = (("sms", "PISHKHAN_SMS_URL"), ("poosheh", "PISHKHAN_POOSHEH_URL"))
# The identity inquiry's services, each answering at once for any recipient (`--population`): a service whose policy
# requires the inquiry costs its full round trips on every charge of the load's fresh recipients.
IDENTITY_SIMULATORS = (("civil-registry", "PISHKHAN_CIVIL_REGISTRY_URL"), ("shahkar", "PISHKHAN_SHAHKAR_URL"))


def start_http_simulators(
    kinds: tuple[tuple[str, str], ...], root: Path, env: dict, services: list[ServiceProcess], *args: str
) -> None:
    """`pishkhan sim KIND --port P ARGS` for each (kind, setting) on a free port, added to `services` as it starts;
    `env[setting]` gets its URL, so the gateway reaches it (the outbox dispatcher delivers instead of retrying
    against nothing; the identity inquiry asks instead of refusing)."""
    for kind, setting in kinds:
        port = free_port()
        services.append(
            start_module(
                kind, "gateway.cli", "sim", kind, "--port", str(port), *args, env=env, log_path=root / f"{kind}.log"
            )
        )
        env[setting] = f"http://127.0.0.1:{port}"
        _wait_for_listener(port, services[-1])


def _wait_for_listener(port: int, service: ServiceProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"the {service.name} simulator exited with code {service.process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the {service.name} simulator did not listen on port {port} within {timeout:.0f} s")


async def start_gateway_host(name: str, env: dict, workers: int, log_path: Path) -> ServiceProcess:
    """`pishkhan serve` with `env`, once it answers /readyz and every worker process has loaded the registry."""
    host = start_module(name, "gateway.cli", "serve", env=env, log_path=log_path)
    await wait_until_ready(f"http://127.0.0.1:{env['PISHKHAN_PORT']}/readyz", host)
    # Every worker process must have loaded the registry before load starts, not only the first to answer.
    await asyncio.sleep(1.0 + 0.2 * workers)
    return host


@dataclass
class BenchStack:
    root: Path
    embedded: EmbeddedStack
    env: dict
    terminals: list[FleetTerminal]
    simulators: Simulators
    messaging: list[ServiceProcess] = field(default_factory=list)
    identity: list[ServiceProcess] = field(default_factory=list)
    gateway: ServiceProcess | None = None
    gateway_port: int = 0
    servers: dict[str, psutil.Process | None] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.embedded.database_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def gateway_env(self, port: int, workers: int, extra_env: dict[str, str]) -> dict:
        """The environment of a gateway host serving on `port` with `workers` processes."""
        return {
            **self.env,
            "PISHKHAN_PORT": str(port),
            "PISHKHAN_WORKERS": str(workers),
            "PISHKHAN_PSP_ENDPOINTS": self.simulators.endpoints,
            "PISHKHAN_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            **QUICK_RECOVERY,
            **UNREACHED_RATE_LIMITS,
            **extra_env,
        }

    async def start_gateway(self, workers: int, extra_env: dict[str, str]) -> None:
        self.gateway_port = self.gateway_port or free_port()
        self.gateway = await start_gateway_host(
            "gateway", self.gateway_env(self.gateway_port, workers, extra_env), workers, self.root / "gateway.log"
        )

    def stop_gateway(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None

    def component_trees(self) -> dict[str, list[psutil.Process]]:
        """The processes of each part of the stack, for CPU and memory accounting."""
        return {
            "gateway": self.gateway.tree() if self.gateway else [],
            "postgres": process_tree(self._server("postgres", self.embedded.pg_port)),
            "valkey": process_tree(self._server("valkey", self.embedded.redis_port)),
            "psp_simulators": self.simulators.tree(),
            "messaging_simulators": [p for service in self.messaging for p in service.tree()],
            "identity_simulators": [p for service in self.identity for p in service.tree()],
        }

    def _server(self, name: str, port: int) -> psutil.Process | None:
        if self.servers.get(name) is None:
            self.servers[name] = process_listening_on(port)
        return self.servers[name]

    def stop(self) -> None:
        self.stop_gateway()
        self.simulators.stop()
        for service in [*self.messaging, *self.identity]:
            service.stop()
        self.embedded.stop()


async def create_terminal_keys(database_url: str, terminal_ids: list[str]) -> dict[str, str]:
    """One terminal API key per terminal, stored hashed in one statement batch; the keys themselves."""
    keys = {terminal_id: generate_key() for terminal_id in terminal_ids}
    conn = await asyncpg.connect(database_url)
    try:
        await conn.executemany(
            "INSERT INTO api_keys (id, key_hash, role, terminal_id, label) VALUES ($1, $2, 'terminal', $3, 'bench')",
            [(key.key_id, key.secret_hash, terminal_id) for terminal_id, key in keys.items()],
        )
    finally:
        await conn.close()
    return {terminal_id: key.token for terminal_id, key in keys.items()}


def start_bench_stack(root: Path, offices: int, terminals_per_office: int) -> BenchStack:
    """Fresh servers and data under `root`, the registry, tariffs and a signing key; simulators at zero PIN delay."""
    embedded = EmbeddedStack(
        root / "servers",
        free_port(),
        free_port(),
        persistent=False,
        server_settings=database_statistics.SERVER_SETTINGS,
    )
    embedded.start()
    messaging: list[ServiceProcess] = []
    identity: list[ServiceProcess] = []
    try:
        env = dict(
            os.environ,
            DATABASE_URL=embedded.database_url,
            REDIS_URL=embedded.redis_url,
            PISHKHAN_KEY_DIR=str(root / "keys"),
            PISHKHAN_LOG_LEVEL="WARNING",
        )
        registry_path = root / "registry.toml"
        today = date.today()
        terminals = write_fleet_registry(registry_path, offices, terminals_per_office, today)
        prepare_database(env, registry_path, root)
        if not any((root / "keys").glob("*.json")):
            create_key(root / "keys")
        psps = demo_registry()["psps"]
        licensed = licensed_psps(demo_registry(), today)
        deadlines = {psp_id: psps[psp_id]["capabilities"]["verify_deadline_minutes"] * 60 for psp_id in licensed}
        start_http_simulators(MESSAGING_SIMULATORS, root, env, messaging)
        start_http_simulators(IDENTITY_SIMULATORS, root, env, identity, "--population")
        simulators = Simulators(root, deadlines, {psp_id: psps[psp_id]["protocol"] for psp_id in licensed}, env)
        simulators.start(pin_delay_ms=0)
    except BaseException:
        for service in [*messaging, *identity]:
            service.stop()
        embedded.stop()
        raise
    return BenchStack(root, embedded, env, terminals, simulators, messaging, identity)
