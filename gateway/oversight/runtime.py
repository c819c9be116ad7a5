"""Oversight inside a gateway process: the penalty rules and detection settings the regulator routes read, and the
detection loop that keeps the findings current (when the process runs workers)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from gateway.core.clock import Clock
from gateway.core.penalties import PenaltyRules
from gateway.oversight.detection import run_detection
from gateway.oversight.penalty_rules import load_penalty_rules
from gateway.platform.config import Settings
from gateway.platform.db import connect
from gateway.registry.live import RuntimeState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Oversight:
    rules: PenaltyRules
    split_window: timedelta
    rescan: timedelta
    commit_margin: timedelta


def oversight_from_settings(settings: Settings) -> Oversight:
    return Oversight(
        load_penalty_rules(settings.penalty_rules_path),
        timedelta(seconds=settings.split_window_s),
        timedelta(seconds=settings.oversight_rescan_s),
        timedelta(seconds=settings.oversight_commit_margin_s),
    )


async def detect_forever(
    database_url: str, state: RuntimeState, oversight: Oversight, *, interval: float, clock: Clock
) -> None:
    # Its own connection, not the pool's: the turn is held by a session advisory lock, and pool connections carry
    # no session state (see gateway/platform/db.py). Kept from turn to turn: a new backend every turn would start
    # cold (its catalog caches filled again for every partition a pass reads), a spike of the database's CPU that
    # the charges being served at that moment would wait behind. Each turn reads up to the commit margin ago, so
    # every charge and refusal is read once rather than again on each turn within the margin.
    conn = None
    try:
        while True:
            try:
                if conn is None or conn.is_closed():
                    conn = await connect(database_url)
                report = await run_detection(
                    conn,
                    state.tariffs,
                    window=oversight.split_window,
                    rescan=oversight.rescan,
                    clock=clock,
                    settled=True,
                    margin=oversight.commit_margin,
                )
                if report is not None and report.found:
                    log.info("oversight detection through %s: new findings %s", report.scanned_to, report.found)
            except Exception:
                log.exception("oversight detection failed; trying again next turn")
                if conn is not None:
                    conn.terminate()
                    conn = None
            await asyncio.sleep(interval)
    finally:
        if conn is not None:
            conn.terminate()
