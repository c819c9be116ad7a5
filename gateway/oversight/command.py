"""`pishkhan oversight detect`: one detection pass from the command line (cron, or after a PSP feed import)."""

from __future__ import annotations

from datetime import datetime

from gateway.core.clock import Clock, system_clock
from gateway.oversight.detection import DetectionReport, detect_between, run_detection
from gateway.oversight.runtime import oversight_from_settings
from gateway.platform.config import Settings
from gateway.platform.db import connect
from gateway.registry.tariff_approvals import read_approver_keys
from gateway.registry.tariff_store import read_verified_book


class DetectionBusy(RuntimeError):
    """Another process is running detection right now."""


async def detect_once(
    settings: Settings, since: datetime | None = None, until: datetime | None = None, *, clock: Clock = system_clock
) -> DetectionReport:
    """With no range, carries on from the last pass (as the gateway's worker does); with a range, scans it."""
    oversight = oversight_from_settings(settings)
    now = clock()
    conn = await connect(settings.database_url)
    try:
        tariffs = await read_verified_book(conn, read_approver_keys(settings.approver_keys))
        if since is None and until is None:
            report = await run_detection(
                conn, tariffs, window=oversight.split_window, rescan=oversight.rescan, clock=clock
            )
            if report is None:
                raise DetectionBusy("another process is running detection; try again in a moment")
            return report
        end = min(until or now, now)
        return await detect_between(
            conn, tariffs, oversight.split_window, since or end - oversight.rescan, end, clock=clock
        )
    finally:
        await conn.close()
