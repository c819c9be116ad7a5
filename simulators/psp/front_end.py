"""What the PSP host simulator's protocol front ends have in common, and the outage that takes one down."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from aiohttp import web

log = logging.getLogger(__name__)


class FrontEnd(Protocol):
    protocol: str  # as the registry names it: "iso8583-tcp", "pcpos-http"
    port_key: str  # its key in the port line the simulator prints

    async def listen(self, address: str, port: int) -> int:
        """Start accepting connections; the bound port (0 picks a free one)."""

    async def hang_up(self) -> None:
        """Stop listening and cut every open connection."""

    def reset(self) -> None:
        """Forget what the front end keeps beside the ledger."""

    def control_routes(self) -> list[web.RouteDef]:
        """Control API routes particular to this protocol."""

    async def close(self) -> None:
        """Stop for good."""


class Outage:
    """A PSP host that is down: its protocol port refuses connections and open ones are cut until the outage ends.
    Purchases already at a terminal carry on and are recorded in the ledger, as on a real host whose front is down."""

    def __init__(self, front_end: FrontEnd, address: str, port: int) -> None:
        self._front_end = front_end
        self._address = address
        self._port = port
        self._active = False
        self._restore: asyncio.Task | None = None

    @property
    def active(self) -> bool:
        return self._active

    async def begin(self, duration_s: float | None) -> None:
        """Down now; back up after duration_s, or when `end` is called if None."""
        self._cancel_restore()
        if not self._active:
            await self._front_end.hang_up()
            self._active = True
            log.info("the PSP host is down")
        if duration_s:
            self._restore = asyncio.create_task(self._end_after(duration_s))

    async def end(self) -> None:
        self._cancel_restore()
        await self._lift()

    async def _end_after(self, duration_s: float) -> None:
        await asyncio.sleep(duration_s)
        self._restore = None
        await self._lift()

    async def _lift(self) -> None:
        if self._active:
            await self._front_end.listen(self._address, self._port)
            self._active = False
            log.info("the PSP host is up again")

    def _cancel_restore(self) -> None:
        if self._restore is not None:
            self._restore.cancel()
            self._restore = None
