"""The regulator's overview for a period and a set of offices: findings by type and by office (the page sums the
offices into provinces), the rials refused and collected over the cap, the weekly trend, and complaints by status.
Read from `finding_day_totals` (findings by Tehran day, office and type, kept current by the statement that records
them), so the cost follows the days and offices asked about, however many charges and findings are stored. A finding
set aside by an upheld objection is in none of the counts and sums; the overview counts those apart (`set_aside`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from gateway.oversight.catalog import SPLIT_CHARGING, VIOLATION_TYPES


@dataclass
class Totals:
    findings: int = 0
    refused_over_cap: int = 0  # rials asked over the cap in refused attempts
    collected_over_cap: int = 0  # rials taken over one cap by split charging
    by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VIOLATION_TYPES, 0))

    def add(self, finding_type: str, findings: int, excess: int) -> None:
        self.findings += findings
        self.by_type[finding_type] += findings
        if finding_type == "excess_fee":
            self.refused_over_cap += excess
        elif finding_type == SPLIT_CHARGING.code:
            self.collected_over_cap += excess


@dataclass(frozen=True)
class Overview:
    total: Totals
    by_office: dict[str, Totals]
    weekly: list[tuple[date, int]]  # (the Saturday a Tehran week begins on, findings)
    complaints: dict[str, int]  # by status
    set_aside: int  # findings set aside by an upheld objection


async def overview(
    db, office_ids: Sequence[str], first: date, last: date, since: datetime, until: datetime
) -> Overview:
    """The Tehran days `first` to `last` (both included), which are the instants [since, until)."""
    total, by_office, set_aside = Totals(), dict[str, Totals](), 0
    for row in await db.fetch(
        """SELECT office_id, type, sum(findings)::bigint AS findings, sum(excess)::bigint AS excess,
                  sum(set_aside)::bigint AS set_aside
           FROM finding_day_totals WHERE office_id = ANY($1::text[]) AND day BETWEEN $2 AND $3
           GROUP BY office_id, type""",
        list(office_ids),
        first,
        last,
    ):
        set_aside += row["set_aside"]
        total.add(row["type"], row["findings"], row["excess"])
        by_office.setdefault(row["office_id"], Totals()).add(row["type"], row["findings"], row["excess"])
    weekly = await db.fetch(
        """SELECT day - ((extract(dow FROM day)::int + 1) % 7) AS week, sum(findings)::bigint AS findings
           FROM finding_day_totals WHERE office_id = ANY($1::text[]) AND day BETWEEN $2 AND $3
           GROUP BY week ORDER BY week""",
        list(office_ids),
        first,
        last,
    )
    return Overview(
        total,
        by_office,
        [(row["week"], row["findings"]) for row in weekly],
        await complaints_by_status(db, office_ids, since, until),
        set_aside,
    )


async def findings_per_office(db, office_ids: Sequence[str], first: date, last: date) -> dict[str, int]:
    """The offices' findings on the Tehran days `first` to `last`, from the day totals."""
    rows = await db.fetch(
        """SELECT office_id, sum(findings)::bigint AS findings FROM finding_day_totals
           WHERE office_id = ANY($1::text[]) AND day BETWEEN $2 AND $3 GROUP BY office_id""",
        list(office_ids),
        first,
        last,
    )
    return {row["office_id"]: row["findings"] for row in rows}


async def complaints_by_status(db, office_ids: Sequence[str], since: datetime, until: datetime) -> dict[str, int]:
    """Citizens' complaints about these offices filed in [since, until), counted by status."""
    rows = await db.fetch(
        """SELECT status, count(*) AS n FROM complaints
           WHERE office_id = ANY($1::text[]) AND created_at >= $2 AND created_at < $3 GROUP BY status""",
        list(office_ids),
        since,
        until,
    )
    return {row["status"]: row["n"] for row in rows}
