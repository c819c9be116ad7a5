"""Detection: turns refusals, split charging, off-book terminal activity and void patterns into findings against
offices.

Each pass covers a time range of when the evidence was recorded (a refusal's time, a charge's completion, an
off-book row's import) and can run again over the same range: every finding is keyed by its evidence, so nothing
is recorded twice. `run_detection` carries on from how far the previous pass reached, re-reading a margin before
it for rows that committed late; one process at a time runs it (an advisory lock), others skip their turn.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from gateway.core.clock import Clock, system_clock
from gateway.core.jalali import format_utc
from gateway.core.recipients import masked_identifier
from gateway.core.tariffs import TariffBook
from gateway.oversight import store
from gateway.oversight.catalog import OFFBOOK_TRANSACTION, SPLIT_CHARGING, VOID_RATE, VOID_THEN_RECHARGE
from gateway.oversight.objections import NOTICE_BATCH, notify_new_findings
from gateway.oversight.split_charging import CompletedCharge, split_finding
from gateway.oversight.void_patterns import void_findings

log = logging.getLogger(__name__)
LOCK_ID = 0x4F56_5253  # "OVRS"
SLICE = timedelta(days=1)  # a first pass over a long history goes a day at a time, recording its progress
# Refusals and charge completions are stamped just before the statement that writes them, so they commit within
# moments of their time (the margin also covers clocks of gateway hosts a little apart); a PSP feed's rows carry the
# start of their import, which can run for minutes (the `rescan` margin).
COMMIT_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class DetectionReport:
    scanned_from: datetime | None
    scanned_to: datetime | None
    found: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "scanned_from": self.scanned_from and format_utc(self.scanned_from),
            "scanned_to": self.scanned_to and format_utc(self.scanned_to),
            "found": dict(self.found),
        }


def _completed_charge(fields: dict, completed_at: datetime) -> CompletedCharge:
    return CompletedCharge(
        id=str(fields["id"]),
        completed_at=completed_at,
        amount=fields["amount"],
        quantity=fields["quantity"],
        extras=tuple((extra["code"], extra["quantity"]) for extra in fields["extras"]),
        operator_id=fields["operator_id"],
        tracking_code=fields["tracking_code"],
    )


def split_violation(row, tariffs: TariffBook, window: timedelta) -> store.NewViolation | None:
    """The finding for one candidate row of `oversight_store.split_candidates`, if its window is over one cap."""
    charge = _completed_charge(dict(row), row["completed_at"])
    earlier = [_completed_charge(item, datetime.fromisoformat(item["completed_at"])) for item in row["earlier"]]
    finding = split_finding(
        charge, earlier, service_code=row["service_code"], office_kind=row["office_kind"], tariffs=tariffs
    )
    if finding is None:
        return None
    evidence = {
        "source": "charges",
        "charge_id": charge.id,
        "charge_ids": [c.id for c in finding.window],
        "recipient_national_code": masked_identifier(row["recipient_national_code"]),
        "recipient_kind": row["recipient_kind"],
        "service_code": row["service_code"],
        "window_seconds": int(window.total_seconds()),
        "total": finding.total,
        "cap": finding.quote.cap,
        "excess": finding.excess,
        "tariff_reference": finding.quote.approval_reference,
        "cap_breakdown": finding.quote.breakdown,
        "charges": [
            {
                "id": c.id,
                "completed_at": format_utc(c.completed_at),
                "amount": c.amount,
                "quantity": c.quantity,
                "extras": [{"code": code, "quantity": qty} for code, qty in c.extras],
                "operator_id": c.operator_id,
                "tracking_code": c.tracking_code,
            }
            for c in finding.window
        ],
    }
    return store.NewViolation(
        office_id=row["office_id"],
        type=SPLIT_CHARGING.code,
        evidence_key=f"split:{charge.id}",
        evidence=evidence,
        occurred_at=charge.completed_at,
        terminal_id=row["terminal_id"],
        operator_id=charge.operator_id,
        service_code=row["service_code"],
        amount=charge.amount,
        excess=finding.excess,
    )


async def detect_range(
    conn: asyncpg.Connection,
    tariffs: TariffBook,
    window: timedelta,
    since: datetime,
    until: datetime,
    feed_since: datetime | None = None,
) -> dict[str, int]:
    """Records the findings whose evidence was recorded in [since, until) (feed rows: from `feed_since`, when
    earlier); returns the new ones by type."""
    found = Counter(await store.insert_refusal_findings(conn, since, until))
    found[OFFBOOK_TRANSACTION.code] += await store.insert_offbook_findings(conn, min(since, feed_since or since), until)
    candidates = await store.split_candidates(conn, since, until, window)
    findings = [v for v in (split_violation(row, tariffs, window) for row in candidates) if v is not None]
    found[SPLIT_CHARGING.code] += await store.insert_findings(conn, findings)
    voided = await void_findings(conn, since, until)
    for code in (VOID_THEN_RECHARGE.code, VOID_RATE.code):
        found[code] += await store.insert_findings(conn, [f for f in voided if f.type == code])
    return {code: count for code, count in sorted(found.items()) if count}


async def detect_between(
    conn: asyncpg.Connection,
    tariffs: TariffBook,
    window: timedelta,
    since: datetime,
    until: datetime,
    feed_since: datetime | None = None,
    *,
    clock: Clock = system_clock,
) -> DetectionReport:
    """Scans [since, until) a day at a time, recording each pass; the first also reads feed rows from
    `feed_since`."""
    totals: Counter = Counter()
    start = since
    while start < until:
        end = min(start + SLICE, until)
        started_at = clock()
        found = await detect_range(conn, tariffs, window, start, end, feed_since if start == since else None)
        await store.record_run(conn, start, end, found, started_at)
        totals.update(found)
        start = end
    return DetectionReport(since, until, dict(totals))


async def run_detection(
    conn: asyncpg.Connection,
    tariffs: TariffBook,
    *,
    window: timedelta,
    rescan: timedelta,
    clock: Clock = system_clock,
    settled: bool = False,
    margin: timedelta = COMMIT_MARGIN,
) -> DetectionReport | None:
    """Carries detection on from where the last pass left off to `now` (`settled`: to `now - margin`, so that every
    refusal and charge is read once, after it has surely committed); None if another process holds the turn.
    A pass that scanned to within `margin` of its own start may not have seen rows that committed just after it
    looked, so the next pass reads again from `margin` before that start; feed rows from `rescan` before."""
    if not await store.try_detection_lock(conn, LOCK_ID):
        return None
    now = clock()
    until = now - margin if settled else now
    try:
        resume = await store.detection_resume_point(conn, margin)
        if resume is None:
            first = await store.earliest_evidence(conn)
            report = await detect_between(
                conn, tariffs, window, first if first is not None else until - rescan, until, clock=clock
            )
        elif resume < until:
            report = await detect_between(conn, tariffs, window, resume, until, feed_since=resume - rescan, clock=clock)
        else:
            report = DetectionReport(resume, resume)
        # The offices hear of their new findings at once: their seven days to object start now.
        while await notify_new_findings(conn, clock()) == NOTICE_BATCH:
            pass
        return report
    finally:
        await store.release_detection_lock(conn, LOCK_ID)
