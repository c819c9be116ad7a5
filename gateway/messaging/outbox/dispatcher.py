"""The outbox dispatcher: delivers the messages a completed charge queued, each exactly once.

It claims due rows in batches (see gateway/messaging/outbox/store.py: SKIP LOCKED, a lease, fenced writes), hands
each channel its share, which goes to the provider in bulk calls (gateway/messaging/outbox/channels.py), every
message keyed by our own message id and answered on its own, and records the accepted ones of a batch in one
statement. The
provider deduplicates by that id, so a retry after a timeout, a lost answer or a dispatcher killed mid-send never
reaches the recipient twice.

Each claim counts an attempt. A retryable failure waits (RetryPolicy) and tries again; the attempt that reaches
`max_attempts` without acceptance puts the row in the dead letter (`dead`); a permanent refusal makes it `failed`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta

from gateway.core.clock import Clock, system_clock
from gateway.messaging import SendOutcome, SendResult
from gateway.messaging.outbox import store
from gateway.messaging.outbox.channels import Channel
from gateway.messaging.outbox.retry import RetryPolicy
from gateway.messaging.outbox.store import Acceptance, ClaimedMessage
from gateway.platform import metrics
from gateway.platform.passes import repeat_passes

log = logging.getLogger(__name__)


class OutboxDispatcher:
    def __init__(
        self,
        pool,
        channels: Mapping[str, Channel],
        *,
        batch: int,
        max_attempts: int,
        lease: timedelta,
        retry: RetryPolicy,
        first_report_after: timedelta,
        interval: float,
        clock: Clock = system_clock,
    ) -> None:
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
        await repeat_passes(self.run_once, batch=self.batch, interval=self.interval, what="outbox", log=log)

    async def run_until_idle(self) -> None:
        """Sends until no message waits to be sent, waiting out backoffs and other dispatchers' leases."""
        while await self.run_once() or await store.count_pending(self.pool):
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        """Claims one batch of due messages, sends them, and records what came of them; returns how many were
        claimed. When recording fails nothing is recorded: the leases run out and the messages are claimed again
        as new attempts, which the providers deduplicate by message id."""
        now = self.clock()
        claimed = await store.claim_due_messages(self.pool, now, now + self.lease, self.batch)
        # Earlier claims of an exhausted message never recorded an outcome (their dispatchers died): no more sends.
        exhausted = [message for message in claimed if message.attempt > self.max_attempts]
        by_channel: dict[str, list[ClaimedMessage]] = defaultdict(list)
        for message in claimed:
            if message.attempt <= self.max_attempts:
                by_channel[message.channel].append(message)
        answers = await asyncio.gather(
            *(self.channels[name].send_all(messages) for name, messages in by_channel.items())
        )
        try:
            await self._record(
                [
                    (message, self.channels[name], result)
                    for (name, messages), results in zip(by_channel.items(), answers, strict=True)
                    for message, result in zip(messages, results, strict=True)
                ]
            )
            for message in exhausted:
                await self._give_up(message, "dead", f"{self.max_attempts} attempts ended without an answer")
        except Exception:
            log.exception("outbox: recording the outcomes of %d messages failed", len(claimed))
        return len(claimed)

    async def _record(self, outcomes: list[tuple[ClaimedMessage, Channel, SendResult]]) -> None:
        now = self.clock()
        accepted = [(message, channel, result) for message, channel, result in outcomes if result.accepted]
        if accepted:
            kept = await store.record_accepted(
                self.pool,
                [
                    Acceptance(
                        message,
                        result.provider_message_id,
                        now + self.first_report_after if channel.reports_delivery else None,
                    )
                    for message, channel, result in accepted
                ],
                now,
            )
            for message, channel, _ in accepted:
                if message.id in kept:
                    metrics.OUTBOX_MESSAGES.labels(message.channel, "sent").inc()
                    if not channel.reports_delivery:
                        metrics.OUTBOX_MESSAGES.labels(message.channel, "delivered").inc()
        for message, _, result in outcomes:
            if result.accepted:
                continue
            if result.outcome is SendOutcome.PERMANENT:
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
