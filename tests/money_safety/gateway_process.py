"""The gateway as a real process (`python -m gateway.cli serve`) that a test can SIGKILL and start again, and a
fleet of office clients that keep charging through it, retrying with the same Idempotency-Key when no answer came."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp

from gateway.platform.config import PROJECT_ROOT
from tests.money_safety.support import FINAL_HTTP, Sent, new_body


class GatewayProcess:
    """`pishkhan serve` with the given environment, in a process group of its own so that a kill takes every
    worker process with it, as a machine losing power would."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = {**os.environ, **env}
        self.url = f"http://127.0.0.1:{env['PISHKHAN_PORT']}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.starts = 0

    async def start(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve"],
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            assert self.process.poll() is None, f"the gateway exited: see {self.log_path}"
            try:
                async with session.get(self.url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise TimeoutError(f"the gateway was not ready within {timeout} s: see {self.log_path}")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class OfficeClients:
    """One client per terminal, charging one card after another until told to stop. A request that got no answer
    (connection refused or cut, a 5xx other than the final 502) or met a busy terminal or a rate limit is sent again
    with the same key and body, as a counter's POS client does. With several gateway hosts the terminals are spread
    over them, and a request that got no answer goes to the next host, as a load balancer's health check would
    route it."""

    def __init__(self, base_urls: list[str], keys: dict[str, str], session: aiohttp.ClientSession) -> None:
        self.base_urls = base_urls
        self.keys = keys
        self.session = session
        self.sent: list[Sent] = []
        self.unanswered = 0
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(terminal_id, host)) for host, terminal_id in enumerate(self.keys)]

    async def stop(self) -> list[Sent]:
        """Lets each client finish the charge it is on (its gateway must be up), then returns every request."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        return self.sent

    async def _run(self, terminal_id: str, host: int) -> None:
        while not self._stopping.is_set():
            body, idem = new_body(terminal_id), uuid.uuid4().hex
            status, answer, host = await self._until_answered(terminal_id, body, idem, host)
            self.sent.append(Sent(terminal_id, idem, body, status, answer))
            await asyncio.sleep(random.uniform(0, 0.1))

    async def _until_answered(self, terminal_id: str, body: dict, idem: str, host: int) -> tuple[int, dict, int]:
        """The final answer and the host that gave it."""
        headers = {"Authorization": f"Bearer {self.keys[terminal_id]}", "Idempotency-Key": idem}
        while True:
            url = self.base_urls[host % len(self.base_urls)] + "/v1/charges"
            try:
                async with self.session.post(url, json=body, headers=headers) as response:
                    status, answer = response.status, await response.json()
                busy = status == 429 or (status == 409 and answer["error"]["code"] == "terminal_busy")
                if (status < 500 or status in FINAL_HTTP) and not busy:
                    return status, answer, host
            except (TimeoutError, aiohttp.ClientError):
                self.unanswered += 1
                host += 1
            await asyncio.sleep(0.2)


class ChargesThrough:
    """`gateway.charge` through a gateway process at `base_url`, for the replay check."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    async def charge(self, key: str, body: dict, idempotency_key: str) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}
        async with self.session.post(self.base_url + "/v1/charges", json=body, headers=headers) as response:
            return response.status, await response.json()
