"""The outbox dispatcher: delivers the messages a completed charge queued, each exactly once.

It claims due rows in batches (see gateway/storage/outbox_store.py: SKIP LOCKED, a lease, fenced writes) and sends
them concurrently, keyed by our own message id. The provider deduplicates by that id, so a retry after a timeout, a
lost answer or a dispatcher killed mid-send never reaches the recipient twice.

Each claim counts an attempt. A retryable failure waits (RetryPolicy) and tries again; the attempt that reaches
`max_attempts` without acceptance puts the row in the dead letter (`dead`); a permanent refusal makes it `failed`.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from gateway import metrics
from gateway.messaging import SendOutcome, SendResult
from gateway.outbox.channels import Channel
from gateway.outbox.retry import RetryPolicy
from gateway.storage import outbox_store as store
from gateway.storage.outbox_store import ClaimedMessage

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class OutboxDispatcher:
    def __init__(self, pool, channels: Mapping[str, Channel], *, batch: int, max_attempts: int, lease: timedelta,
                 retry: RetryPolicy, first_report_after: timedelta, interval: float, clock=utcnow) -> None:
        self.pool = pool
        self.channels = channels
        self.batch = batch
        self.max_attempts = max_attempts
        self.lease = lease
        self.retry = retry
        self.first_report_after = first_report_after
        self.interval = interval
        self.clock = clock

    async def run(self) -> None:
        while True:
            try:
                while await self.run_once() == self.batch:
                    pass
            except Exception:
                log.exception("outbox pass failed; retrying")
            await asyncio.sleep(self.interval)

    async def run_until_idle(self) -> None:
        """Sends until no message waits to be sent, waiting out backoffs and other dispatchers' leases."""
        while await self.run_once() or await store.count_pending(self.pool):
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        """Claims one batch of due messages and sends them; returns how many were claimed."""
        now = self.clock()
        claimed = await store.claim_due_messages(self.pool, now, now + self.lease, self.batch)
        await asyncio.gather(*(self._guarded(message) for message in claimed))
        return len(claimed)

    async def _guarded(self, message: ClaimedMessage) -> None:
        try:
            await self._deliver(message)
        except Exception:
            # Nothing was recorded: the lease runs out and the message is claimed again as a new attempt.
            log.exception("outbox message %s: recording its outcome failed", message.message_id)

    async def _deliver(self, message: ClaimedMessage) -> None:
        if message.attempt > self.max_attempts:
            # Earlier claims never recorded an outcome (their dispatchers died): give up without another send.
            await self._give_up(message, "dead", f"{self.max_attempts} attempts ended without an answer")
            return
        channel = self.channels[message.channel]
        try:
            result = await channel.send(message)
        except Exception as error:
            # A fault on our side (the database, a bug) is retried like a provider fault, within the same limit.
            log.exception("outbox message %s: sending raised", message.message_id)
            result = SendResult.retryable(f"{type(error).__name__}: {error}")
        await self._record(message, channel, result)

    async def _record(self, message: ClaimedMessage, channel: Channel, result: SendResult) -> None:
        now = self.clock()
        if result.accepted:
            next_poll_at = now + self.first_report_after if channel.reports_delivery else None
            if await store.record_accepted(self.pool, message, result.provider_message_id, now,
                                           next_poll_at=next_poll_at):
                metrics.OUTBOX_MESSAGES.labels(message.channel, "sent").inc()
                if not channel.reports_delivery:
                    metrics.OUTBOX_MESSAGES.labels(message.channel, "delivered").inc()
        elif result.outcome is SendOutcome.PERMANENT:
            await self._give_up(message, "failed", result.detail or "refused")
        elif message.attempt >= self.max_attempts:
            await self._give_up(message, "dead", f"attempt {message.attempt}: {result.detail}")
        else:
            delay = timedelta(seconds=self.retry.delay(message.attempt, result.retry_after))
            if await store.record_retry(self.pool, message, now + delay, result.detail or "retryable", now):
                metrics.OUTBOX_MESSAGES.labels(message.channel, "retried").inc()

    async def _give_up(self, message: ClaimedMessage, status: str, error: str) -> None:
        if await store.record_given_up(self.pool, message, status, error, self.clock()):
            metrics.OUTBOX_MESSAGES.labels(message.channel, status).inc()
            log.warning("outbox message %s (%s) is %s: %s", message.message_id, message.channel, status, error)
