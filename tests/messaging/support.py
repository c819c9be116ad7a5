"""What the tests of this folder share besides fixtures."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp

DELIVERY_DELAY = 0.05  # seconds from acceptance to the handset in the SMS centre


def start_process(module: str, *args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", module, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError(f"{module} exited before listening (code {process.wait()})")
    return process, f"http://127.0.0.1:{json.loads(line)['port']}"


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class SimulatorControl:
    """The control API of one simulator."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self.base_url = base_url

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        async with self._session.request(method, self.base_url + path, **kwargs) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()

    async def reset(self) -> None:
        await self._call("POST", "/control/reset")

    async def arm(self, **fault) -> dict:
        return await self._call("POST", "/control/faults", json=fault)

    async def handset(self, recipient: str) -> list[dict]:
        return (await self._call("GET", "/control/messages", params={"recipient": recipient}))["messages"]

    async def inbox(self, address: str) -> list[dict]:
        return (await self._call("GET", f"/control/inbox/{address}"))["documents"]

    async def calls(self) -> dict[str, int]:
        """How many calls each API route has answered since the last reset."""
        return (await self._call("GET", "/control/calls"))["calls"]
