"""Delivery reports: asks the SMS provider about accepted messages until it gives a final answer.

Accepted SMS rows carry `next_poll_at`. The poller claims due ones (SKIP LOCKED, a lease), asks the provider for
all of them in one call, and stores each report with the time it was received. A final report (delivered,
undelivered, failed) becomes the row's status and ends polling; queued or sent polls again later. Providers keep
reports for a day, so polling stops `REPORT_WINDOW` after sending, leaving the last report in place.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from gateway.core.clock import Clock, system_clock
from gateway.messaging import DeliveryStatus, SmsProvider
from gateway.messaging.outbox import store
from gateway.messaging.outbox.store import ClaimedReport, ReportUpdate
from gateway.platform import metrics
from gateway.platform.passes import repeat_passes

log = logging.getLogger(__name__)

REPORT_WINDOW = timedelta(hours=24)
FINAL = {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED}


def report_update(claimed: ClaimedReport, status: DeliveryStatus, now: datetime, poll_every: timedelta) -> ReportUpdate:
    """What to store for one report, and when to ask again."""
    if status in FINAL:
        return ReportUpdate(claimed.id, claimed.created_at, status.value, status.value, None)
    next_poll = now + poll_every
    return ReportUpdate(
        claimed.id,
        claimed.created_at,
        None if status is DeliveryStatus.UNKNOWN else status.value,
        None,
        next_poll if next_poll <= claimed.sent_at + REPORT_WINDOW else None,
    )


class DeliveryReportPoller:
    def __init__(
        self,
        pool,
        provider: SmsProvider,
        *,
        batch: int,
        lease: timedelta,
        poll_every: timedelta,
        interval: float,
        clock: Clock = system_clock,
    ) -> None:
        self.pool = pool
        self.provider = provider
        self.batch = batch
        self.lease = lease
        self.poll_every = poll_every
        self.interval = interval
        self.clock = clock

    async def run(self) -> None:
        await repeat_passes(self.run_once, batch=self.batch, interval=self.interval, what="delivery-report", log=log)

    async def run_once(self) -> int:
        """Polls one batch of due messages; returns how many were claimed."""
        now = self.clock()
        lease_until = now + self.lease
        claimed = await store.claim_due_reports(self.pool, now, lease_until, self.batch)
        if not claimed:
            return 0
        statuses = await self.provider.status([c.message_id for c in claimed])
        received = self.clock()
        updates = [report_update(c, statuses[c.message_id], received, self.poll_every) for c in claimed]
        recorded = await store.record_reports(self.pool, updates, lease_until, received)
        channels = {c.id: c.channel for c in claimed}
        for update in updates:
            if update.final_status and update.id in recorded:
                metrics.OUTBOX_MESSAGES.labels(channels[update.id], update.final_status).inc()
        return len(claimed)
