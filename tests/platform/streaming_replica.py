"""A PostgreSQL streaming replica of the test stack's primary, from the same embedded binaries: `pg_basebackup -R`
(which writes standby.signal and the primary's address), then the server started on its own port as a hot standby.
The test can stop it (the replica going away) and start it again, and pause its replay (replica lag)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from simulators.devstack.embedded import ServerUser, _wait_for_port, free_port, postgres_bin_dir


class StreamingReplica:
    def __init__(self, primary_url: str, root: Path) -> None:
        self.primary = urlsplit(primary_url)
        self.data = root / "replica"
        self.log = root / "replica.log"
        self.port = free_port()
        self.url = primary_url.replace(f":{self.primary.port}/", f":{self.port}/")
        self.user = ServerUser.for_current_process()
        self.process: subprocess.Popen | None = None

    def create(self) -> None:
        self.data.parent.mkdir(parents=True, exist_ok=True)
        self.user.make_reachable(self.data.parent)
        self.user.own(self.data.parent)
        subprocess.run(
            [
                str(postgres_bin_dir() / "pg_basebackup"),
                *("-h", self.primary.hostname, "-p", str(self.primary.port), "-U", "postgres"),
                *("-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast"),
            ],
            check=True,
            capture_output=True,
            preexec_fn=self.user.preexec(signal.SIGTERM),
        )

    def start(self) -> None:
        """A hot standby needs at least the primary's max_connections (the test stack runs 300)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(postgres_bin_dir() / "postgres"),
                    *("-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1", "-k", ""),
                    *("-c", "hot_standby=on", "-c", "fsync=off", "-c", "max_connections=300"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.user.preexec(signal.SIGINT),
            )
        _wait_for_port(self.port, 60, self.process, "the replica")

    def stop(self) -> None:
        """A fast shutdown: the replica's clients are cut, as when its machine goes away."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)

    async def until_ready(self, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                conn = await asyncpg.connect(self.url)
                try:
                    if await conn.fetchval("SELECT pg_is_in_recovery()"):
                        return
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError):
                if loop.time() > deadline:
                    raise
            await asyncio.sleep(0.2)

    async def caught_up(self, primary: asyncpg.Pool | asyncpg.Connection, timeout: float = 30.0) -> None:
        """Waits until the replica has replayed everything the primary had written when called."""
        target = await primary.fetchval("SELECT pg_current_wal_insert_lsn()")
        conn = await asyncpg.connect(self.url)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not await conn.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target):
                assert loop.time() < deadline, "the replica did not catch up"
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    async def pause_replay(self, paused: bool) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
        finally:
            await conn.close()
