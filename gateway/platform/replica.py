"""Reads that may lag behind the primary (regulator pages and exports, agency statements, reconciliation reports,
public receipt verification) go to a PostgreSQL streaming replica when `DATABASE_REPLICA_URL` is set. Everything a
terminal reads back after writing it stays on the primary pool; this object is only handed to the lagging reads.

A replica that cannot be reached is not asked again for `retry_after_s` and its reads go to the primary meanwhile:
a single read that fails for the connection (refused, cut, the server shutting down) is run again on the primary,
and a connection for several statements (`acquire`) is taken from the primary when the replica cannot give one (a
pooled connection whose server went away is reconnected on acquiring, which fails). So the replica going away fails
no request, except one whose connection it cuts between two of its statements, such as an export half streamed:
the client asks again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from gateway.platform.db import create_pool

log = logging.getLogger(__name__)
T = TypeVar("T")

# What an unreachable or stopping server raises; a query error (bad SQL, a constraint) is not among them.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)


class LaggingReads:
    """A pool-like reader (`fetch`, `fetchrow`, `fetchval`, `acquire`) over the replica, falling back to `primary`."""

    def __init__(self, primary: asyncpg.Pool, replica: asyncpg.Pool | None, retry_after_s: float = 5.0) -> None:
        self.primary = primary
        self.replica = replica
        self.retry_after_s = retry_after_s
        self._replica_down_until = 0.0

    @classmethod
    async def open(cls, primary: asyncpg.Pool, replica_url: str, size: int) -> LaggingReads:
        """No replica pool without a URL; a replica down at start-up is connected to when it is back."""
        replica = await create_pool(replica_url, size, min_size=0) if replica_url else None
        return cls(primary, replica)

    async def close(self) -> None:
        if self.replica is not None:
            await self.replica.close()

    def _replica_usable(self) -> bool:
        return self.replica is not None and time.monotonic() >= self._replica_down_until

    def _replica_failed(self, error: BaseException) -> None:
        self._replica_down_until = time.monotonic() + self.retry_after_s
        log.warning(
            "the read replica is unreachable (%s); reading from the primary for %.0f s", error, self.retry_after_s
        )

    async def run(self, read: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """`read` against the replica pool, or against the primary when the replica is down or goes away."""
        if self.replica is not None and self._replica_usable():
            try:
                return await read(self.replica)
            except CONNECTION_ERRORS as error:
                self._replica_failed(error)
        return await read(self.primary)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self.run(lambda pool: pool.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await self.run(lambda pool: pool.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self.run(lambda pool: pool.fetchval(query, *args))

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for several statements or a stream: the replica's when it can be had, else the primary's."""
        if self.replica is not None and self._replica_usable():
            try:
                conn = await self.replica.acquire()
            except CONNECTION_ERRORS as error:
                self._replica_failed(error)
            else:
                try:
                    yield conn
                finally:
                    await self.replica.release(conn)
                return
        async with self.primary.acquire() as conn:
            yield conn
