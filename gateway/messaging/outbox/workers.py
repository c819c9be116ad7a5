"""The outbox workers assembled from settings: in the gateway process (`pishkhan serve`), or on their own
(`pishkhan outbox run`), as many processes as wanted beside gateways started with PISHKHAN_RUN_WORKERS=0."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import timedelta

from gateway.core.clock import Clock, system_clock
from gateway.messaging import PooshehInbox, create_sms_provider
from gateway.messaging.outbox.channels import Channel, PooshehChannel, SmsChannel
from gateway.messaging.outbox.delivery_reports import DeliveryReportPoller
from gateway.messaging.outbox.dispatcher import OutboxDispatcher
from gateway.messaging.outbox.retry import RetryPolicy
from gateway.platform.config import Settings
from gateway.platform.db import create_pool
from receipts.keys_files import load_keyring
from receipts.signing import Keyring

_POOL_SIZE = 4


class OutboxWorkers:
    """The dispatcher and the delivery-report poller, sharing one SMS provider and one inbox adapter."""

    def __init__(
        self, settings: Settings, pool, keyring: Callable[[], Keyring], *, clock: Clock = system_clock
    ) -> None:
        self.sms = create_sms_provider(
            settings.sms_provider, settings.sms_url, settings.sms_credentials(), timeout=settings.messaging_timeout_s
        )
        self.inbox = PooshehInbox(settings.poosheh_url, settings.poosheh_token, timeout=settings.messaging_timeout_s)
        lease = timedelta(seconds=settings.outbox_lease_s)
        poll_every = timedelta(seconds=settings.delivery_poll_s)
        channels: dict[str, Channel] = {
            SmsChannel.name: SmsChannel(self.sms),
            PooshehChannel.name: PooshehChannel(self.inbox, pool, keyring),
        }
        self.dispatcher = OutboxDispatcher(
            pool,
            channels,
            batch=settings.outbox_batch,
            max_attempts=settings.outbox_max_attempts,
            lease=lease,
            retry=RetryPolicy(base=settings.outbox_retry_base_s),
            first_report_after=poll_every,
            interval=settings.outbox_interval_s,
            clock=clock,
        )
        self.poller = DeliveryReportPoller(
            pool,
            self.sms,
            batch=settings.outbox_batch,
            lease=lease,
            poll_every=poll_every,
            interval=settings.outbox_interval_s,
            clock=clock,
        )

    async def run(self) -> None:
        await asyncio.gather(self.dispatcher.run(), self.poller.run())

    async def close(self) -> None:
        await self.sms.close()
        await self.inbox.close()


async def run_outbox_process(settings: Settings, *, until_idle: bool) -> None:
    """Runs the workers until SIGTERM or SIGINT; with `until_idle`, only sends, and stops once nothing waits.

    The signing keys are read once, at start: restart the process after adding a key to the key directory.
    """
    pool = await create_pool(settings.database_url, _POOL_SIZE)
    keyring = load_keyring(settings.key_dir)
    workers = OutboxWorkers(settings, pool, lambda: keyring)
    work = asyncio.ensure_future(workers.dispatcher.run_until_idle() if until_idle else workers.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, work.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await work
    finally:
        await workers.close()
        await pool.close()
