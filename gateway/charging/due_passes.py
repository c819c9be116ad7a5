"""One loop for the charging feature's four claim passes (charge recovery, void recovery, refund recovery, separate
settle calls), which run every few seconds and almost always find nothing. Each round asks PostgreSQL once whether
any of them has work (four index probes in one statement), and only the passes with work make their claims, each
on its own and again at once while its claims come back full. An idle gateway thus costs one cheap transaction
per round, not four.

A due row found by the probe but taken by another process first makes one empty claim; a row that falls due just
after the probe waits for the next round, as it would have waited for the next pass."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol

from gateway.charging.refund_store import PENDING_REFUND_STATUSES
from gateway.charging.store import PENDING_STATUSES, RECOVERY_DUE, SETTLE_DUE
from gateway.charging.void_store import PENDING_VOID_STATUSES
from gateway.core.clock import Clock, system_clock

log = logging.getLogger(__name__)


def _statuses(values: list[str]) -> str:
    """The statuses as an array literal: written into the statement (not bound), so the planner can see that it
    matches each table's partial index of due rows in every plan, the generic one included."""
    return "'{" + ",".join(values) + "}'"


_PROBE = f"""
SELECT EXISTS (SELECT 1 FROM charges WHERE {RECOVERY_DUE.format(pending=_statuses(PENDING_STATUSES), now="$1")})
           AS charges,
       EXISTS (SELECT 1 FROM voids WHERE {RECOVERY_DUE.format(pending=_statuses(PENDING_VOID_STATUSES), now="$1")})
           AS voids,
       EXISTS (SELECT 1 FROM refunds
               WHERE {RECOVERY_DUE.format(pending=_statuses(PENDING_REFUND_STATUSES), now="$1")}) AS refunds,
       EXISTS (SELECT 1 FROM settle_calls WHERE {SETTLE_DUE.format(now="$1")}) AS settlements
"""


async def due_work(db, now: datetime) -> set[str]:
    """Which passes have rows due at `now`: of "charges", "voids", "refunds", "settlements"."""
    row = await db.fetchrow(_PROBE, now)
    return {name for name, due in row.items() if due}


class ClaimPass(Protocol):
    batch: int

    async def run_once(self) -> int:
        """Claims and handles one batch; returns how many it claimed."""
        ...


async def run_due_passes(pool, passes: dict[str, ClaimPass], *, interval: float, clock: Clock = system_clock) -> None:
    """Forever: probe, start each pass (of those given) that has work and is not still running, pause. A pass runs on
    its own, so one slowed by a PSP that does not answer holds none of the others back. A failed probe or pass is
    logged and tried again in a later round."""
    running: dict[str, asyncio.Task] = {}
    try:
        while True:
            try:
                due = set(passes) & await due_work(pool, clock())
                for name in sorted(due):
                    if name not in running or running[name].done():
                        running[name] = asyncio.create_task(_drain(name, passes[name]))
            except Exception:
                log.exception("probe for due charges, voids, refunds and settlements failed; retrying")
            await asyncio.sleep(interval)
    finally:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)


async def _drain(name: str, claim_pass: ClaimPass) -> None:
    try:
        while await claim_pass.run_once() == claim_pass.batch:
            pass
    except Exception:
        log.exception("%s pass failed; retrying", name)
