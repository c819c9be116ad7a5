"""Oversight inside the gateway process: the penalty rules and detection settings the regulator routes read, and
the detection worker that keeps the findings current (when the process runs workers)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from aiohttp import web

from gateway.config import Settings
from gateway.domain.penalties import PenaltyRules
from gateway.http.context import SERVICES
from gateway.oversight.detection import run_detection
from gateway.oversight.penalty_rules import load_penalty_rules
from gateway.storage.db import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Oversight:
    rules: PenaltyRules
    split_window: timedelta
    rescan: timedelta


OVERSIGHT = web.AppKey("oversight", Oversight)


def oversight_from_settings(settings: Settings) -> Oversight:
    return Oversight(load_penalty_rules(settings.penalty_rules_path),
                     timedelta(seconds=settings.split_window_s), timedelta(seconds=settings.oversight_rescan_s))


async def detect_forever(services, oversight: Oversight, interval: float) -> None:
    while True:
        try:
            # Its own connection, not the pool's: the turn is held by a session advisory lock, and pool
            # connections carry no session state (see gateway/storage/db.py).
            conn = await connect(services.settings.database_url)
            try:
                report = await run_detection(conn, services.state.tariffs, window=oversight.split_window,
                                             rescan=oversight.rescan, now=datetime.now(timezone.utc))
            finally:
                await conn.close()
            if report is not None and report.found:
                log.info("oversight detection through %s: new findings %s", report.scanned_to, report.found)
        except Exception:
            log.exception("oversight detection failed; trying again next turn")
        await asyncio.sleep(interval)


def oversight_context(settings: Settings):
    """An aiohttp cleanup context, appended after the one that builds the app's services."""
    async def context(app: web.Application):
        oversight = oversight_from_settings(settings)
        app[OVERSIGHT] = oversight
        worker = None
        if settings.run_workers:
            worker = asyncio.create_task(detect_forever(app[SERVICES], oversight, settings.oversight_interval_s))
        yield
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    return context
