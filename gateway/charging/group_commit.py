"""Group commit of the charge path's two writes in one process: the charge inserts (`ChargeInserts`) and the
completions (`ChargeCompletions`). The writes that arrive while the statements of their kind in flight hold every
slot wait for one and are sent together in the next statement, one transaction for all of them.

No timer: a write that finds a statement of its kind free to go (fewer than MAX_IN_FLIGHT in flight) is sent at
once, so a gateway below its peak adds no wait; under load the statements in flight are the window in which the
next batch gathers, so batches grow with the load and the transactions per charge fall. A few batches at a time
per kind and process keep a burst from taking every pool connection for its writes; a batch's statement costs
little more than a single row's.

Each caller gets its own row's answer. A statement that PostgreSQL refuses as a whole (a row breaking a constraint,
a deadlock) is retried row by row, so one bad row fails alone and its neighbours are written; a charge that was not
stored is never driven to the PSP, as its caller gets the error. When PostgreSQL is unreachable every caller of the
batch gets the error, as it would for a statement of its own (an outage is answered 503)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

import asyncpg
from prometheus_client import Histogram

from gateway.charging import store
from gateway.platform import metrics
from gateway.platform.db import create_pool
from gateway.platform.dependencies import unavailable_store

MAX_BATCH = 64
# More than one, so that a write arriving while a statement is in flight need not wait for it when the process is
# below its peak (a statement's time on a busy machine is mostly waiting for a core); few, so that under load the
# writes still gather into batches.
MAX_IN_FLIGHT = 2

Write = TypeVar("Write")
Answer = TypeVar("Answer")


@dataclass(frozen=True)
class _Waiting(Generic[Write, Answer]):
    write: Write
    answer: asyncio.Future[Answer | Exception]


class GroupCommit(Generic[Write, Answer]):
    """Sends writes of one kind in batches through `send_many`, which makes one statement of a batch and answers
    each write in order: its result, or an exception to raise to that write's caller alone."""

    def __init__(
        self,
        send_many: Callable[[Sequence[Write]], Awaitable[Sequence[Answer | Exception]]],
        batch_sizes: Histogram,
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.send_many = send_many
        self.batch_sizes = batch_sizes
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._queue: list[_Waiting[Write, Answer]] = []
        self._senders: set[asyncio.Task[None]] = set()

    async def submit(self, write: Write) -> Answer:
        answer: asyncio.Future[Answer | Exception] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(write, answer))
        if len(self._senders) < self.max_in_flight:
            self._senders.add(asyncio.create_task(self._send_queued()))
        result = await answer
        if isinstance(result, Exception):
            raise result
        return result

    async def _send_queued(self) -> None:
        batch: list[_Waiting[Write, Answer]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self.batch_sizes.observe(len(batch))
                await self._send(batch)
        finally:
            # At once, not by a done callback: a caller answered by this last batch may write again before that runs,
            # and must find the slot free.
            self._senders.discard(asyncio.current_task())
            for waiting in (*batch, *self._queue):  # answered already, unless cancelled as the process stops
                if not waiting.answer.done():
                    waiting.answer.cancel()
            self._queue = []

    async def _send(self, batch: list[_Waiting[Write, Answer]]) -> None:
        try:
            results = await self.send_many([waiting.write for waiting in batch])
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


class ChargeInserts(GroupCommit[store.ChargeInsert, store.StoredCharge | None]):
    def __init__(self, pool, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(partial(store.insert_charges, pool), metrics.CHARGE_INSERT_BATCH, max_batch=max_batch)

    async def insert(self, insert: store.ChargeInsert) -> store.StoredCharge | None:
        """The charge's STAN and its office's chain head once it is stored, or None if its idempotency key was
        already used (nothing stored). Raises KeyRevoked, nothing written, if its API key is revoked."""
        return await self.submit(insert)


async def open_completion_pool(database_url: str) -> asyncpg.Pool:
    """The pool ChargeCompletions sends through: a connection per statement in flight, each using the statement's
    generic plan. PostgreSQL would otherwise plan the completion again on every call (about a millisecond of its
    CPU), as the custom plan for a batch's id bounds always looks cheaper than the generic one, which prunes the same
    partitions when it starts."""
    return await create_pool(database_url, MAX_IN_FLIGHT, min_size=0, generic_plans=True)


class ChargeCompletions(GroupCommit[store.Completion, bool]):
    """Sends through a pool of its own (open_completion_pool)."""

    def __init__(self, pool, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(partial(store.complete_charges, pool), metrics.CHARGE_COMPLETION_BATCH, max_batch=max_batch)

    async def complete(self, completion: store.Completion) -> bool:
        """Completes the charge with its receipt, chain head and outbox rows, all or nothing: True once written,
        False if the charge was already final or claimed since the completer read it. Raises ChainMoved, nothing
        written, if another completion took this receipt's place in the office's chain."""
        return await self.submit(completion)
