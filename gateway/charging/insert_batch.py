"""Group commit of the charge inserts of one process: the charges that arrive while an insert is in flight wait for
it and are persisted together in the next statement, one transaction for all of them.

No timer: an insert that finds nothing in flight is sent at once, so an idle gateway adds no wait; under load the
statement in flight is the window in which the next batch gathers, so batches grow with the load and the
transactions per charge fall below one. One batch at a time per process keeps a burst from taking every pool
connection for its inserts; a batch's statement costs little more than a single row's.

Each caller gets its own row's answer. A statement that PostgreSQL refuses as a whole (a row breaking a constraint,
a deadlock) is retried row by row, so one bad row fails alone and its neighbours are stored; a row that was not
stored is never driven to the PSP, as its caller gets the error. When PostgreSQL is unreachable every caller of the
batch gets the error, as it would for a statement of its own (an outage is answered 503)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from gateway.charging import store
from gateway.platform import metrics
from gateway.platform.dependencies import unavailable_store

MAX_BATCH = 64


@dataclass(frozen=True)
class _Waiting:
    insert: store.ChargeInsert
    answer: asyncio.Future[store.StoredCharge | store.KeyRevoked | None]


class ChargeInserts:
    def __init__(self, pool, *, max_batch: int = MAX_BATCH) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._queue: list[_Waiting] = []
        self._sender: asyncio.Task[None] | None = None

    async def insert(self, insert: store.ChargeInsert) -> store.StoredCharge | None:
        """The charge's STAN and its office's chain head once it is stored, or None if its idempotency key was
        already used (nothing stored). Raises KeyRevoked, nothing written, if its API key is revoked."""
        answer: asyncio.Future[store.StoredCharge | store.KeyRevoked | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.append(_Waiting(insert, answer))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_queued())
        result = await answer
        if isinstance(result, store.KeyRevoked):
            raise result
        return result

    async def _send_queued(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                metrics.CHARGE_INSERT_BATCH.observe(len(batch))
                await self._send(batch)
        finally:
            self._sender = None
            for waiting in (*batch, *self._queue):  # answered already, unless cancelled as the process stops
                if not waiting.answer.done():
                    waiting.answer.cancel()
            self._queue = []

    async def _send(self, batch: list[_Waiting]) -> None:
        try:
            results = await store.insert_charges(self.pool, [waiting.insert for waiting in batch])
        except Exception as exc:
            if len(batch) > 1 and _refused_statement(exc):
                await asyncio.gather(*(self._send([waiting]) for waiting in batch))
                return
            for waiting in batch:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)
            return
        for waiting, result in zip(batch, results, strict=True):
            if not waiting.answer.done():  # its caller may have been cancelled meanwhile
                waiting.answer.set_result(result)


def _refused_statement(exc: Exception) -> bool:
    """Whether PostgreSQL answered the statement with an error, which undid it whole, while the server stays up."""
    return isinstance(exc, asyncpg.PostgresError) and unavailable_store(exc) is None
