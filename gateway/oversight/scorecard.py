"""An office's scorecard for one six-month Jalali period: its negative indicators (findings by type), its business
in the period for scale, and a penalty suggestion for every obligation it breached, with the arithmetic.

`office_scorecard` reads what it needs (the period's findings, and which earlier periods had findings of each
obligation); `build_scorecard` is the pure part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from gateway.core.jalali import format_utc
from gateway.core.penalties import RULE_FA, PenaltyRules, penalty_stages
from gateway.core.periods import HalfYear
from gateway.core.registry import Office
from gateway.oversight import store
from gateway.oversight.catalog import OBLIGATIONS, VIOLATION_TYPES


def _indicators(period_totals: Iterable[Mapping]) -> list[dict]:
    totals = {row["type"]: row for row in period_totals}
    return [
        {
            "type": code,
            "label_fa": kind.label_fa,
            "obligation": kind.obligation.code,
            "money_collected": kind.money_collected,
            **{measure: totals[code][measure] if code in totals else 0 for measure in ("count", "amount", "excess")},
        }
        for code, kind in VIOLATION_TYPES.items()
    ]


def _penalties(breached: Mapping[str, set[HalfYear]], period: HalfYear, rules: PenaltyRules) -> list[dict]:
    suggestions = []
    for obligation, periods in sorted(breached.items()):
        if period not in periods:
            continue
        stages = penalty_stages([p for p in periods if p <= period], rules)
        current = stages[-1]
        suggestions.append(
            {
                "obligation": obligation,
                "label_fa": OBLIGATIONS[obligation].label_fa,
                "stage": current.stage,
                "suggested": current.amount,
                "year_cap": current.year_cap.amount,
                "limited_by_cap": current.limited_by_cap,
                "arithmetic": list(current.arithmetic),
                "arithmetic_fa": list(current.arithmetic_fa),
                "earlier_stages": [
                    {"period": s.period.label, "stage": s.stage, "suggested": s.amount} for s in stages[:-1]
                ],
            }
        )
    return suggestions


def build_scorecard(
    office: Office,
    period: HalfYear,
    period_totals: Iterable[Mapping],
    breached: Mapping[str, set[HalfYear]],
    activity: Mapping,
    rules: PenaltyRules,
    *,
    detected_through: datetime | None,
    now: datetime,
) -> dict:
    """`period_totals`: the period's findings per type (count, amount, excess); `breached`: per obligation, the
    periods up to this one in which the office had findings of it."""
    indicators = _indicators(period_totals)
    return {
        "object": "scorecard",
        "office": {
            "id": office.id,
            "name": office.name,
            "province": office.province,
            "city": office.city,
            "licence_holder": office.licence_holder,
            "licence_number": office.licence_number,
            "status": office.status,
        },
        "period": {**period.as_dict(), "complete": now >= period.ends_before},
        "detected_through": detected_through and format_utc(detected_through),
        "activity": {
            "charges_completed": activity["charges_completed"],
            "amount_collected": activity["amount_collected"],
        },
        "negative_indicators": sum(item["count"] for item in indicators),
        "indicators": indicators,
        "penalties": _penalties(breached, period, rules),
        "penalty_rules": {
            "rule_fa": RULE_FA,
            "base_year": rules.base_year,
            "base_cap": rules.base_cap,
            "first_stage_share": str(rules.first_stage_share),
            "index_source": rules.source,
            "sample_index": rules.sample,
        },
    }


async def office_scorecard(db, office: Office, period: HalfYear, rules: PenaltyRules, *, now: datetime) -> dict:
    breached: dict[str, set[HalfYear]] = defaultdict(set)
    first = await store.office_first_finding(db, office.id)
    if first is not None and first < period.ends_before:
        periods = [HalfYear.containing(first)]
        while periods[-1] < period:
            periods.append(periods[-1].next())
        found = await store.office_breached_periods(
            db, office.id, [p.starts_at for p in periods], [p.ends_before for p in periods], list(VIOLATION_TYPES)
        )
        for index, type_code in found:
            breached[VIOLATION_TYPES[type_code].obligation.code].add(periods[index])
    return build_scorecard(
        office,
        period,
        await store.office_period_totals(db, office.id, period.starts_at, period.ends_before),
        breached,
        await store.office_activity(db, office.id, period.starts_at, period.ends_before),
        rules,
        detected_through=await store.detection_reach(db),
        now=now,
    )


SCORECARD_CSV_COLUMNS = (
    "office_id",
    "period",
    "section",
    "code",
    "label_fa",
    "obligation",
    "count",
    "amount",
    "excess",
    "stage",
    "suggested_penalty",
    "year_cap",
    "limited_by_cap",
    "arithmetic",
)


def scorecard_csv_rows(card: dict) -> list[dict]:
    """One row per indicator, then one per penalty suggestion (its arithmetic joined by ' | ')."""
    base = {"office_id": card["office"]["id"], "period": card["period"]["label"]}
    empty = dict.fromkeys(SCORECARD_CSV_COLUMNS)
    rows = [
        {
            **empty,
            **base,
            "section": "indicator",
            "code": item["type"],
            "label_fa": item["label_fa"],
            "obligation": item["obligation"],
            "count": item["count"],
            "amount": item["amount"],
            "excess": item["excess"],
        }
        for item in card["indicators"]
    ]
    rows += [
        {
            **empty,
            **base,
            "section": "penalty",
            "code": item["obligation"],
            "label_fa": item["label_fa"],
            "obligation": item["obligation"],
            "stage": item["stage"],
            "suggested_penalty": item["suggested"],
            "year_cap": item["year_cap"],
            "limited_by_cap": item["limited_by_cap"],
            "arithmetic": " | ".join(item["arithmetic"]),
        }
        for item in card["penalties"]
    ]
    return rows
