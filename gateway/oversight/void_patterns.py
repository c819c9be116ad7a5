"""Findings about voids, the known abuse of charge, void, take cash:

- `void_then_recharge`: a charge voided, then the same recipient charged again at the same office for the same
  service within `RECHARGE_WINDOW` of the void. One finding per void, with both charges as evidence.
- `void_rate`: on a Tehran day, an office voided at least `RATE_MIN_VOIDS` charges and at least `RATE_SHARE` of
  the charges it completed that day. One finding per office and day, with every void of the day as evidence.

Like every finding they are keyed by their evidence, so a pass that runs again records nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

import asyncpg

from gateway.core.identifiers import mask_national_code
from gateway.core.jalali import format_utc
from gateway.oversight.catalog import VOID_RATE, VOID_THEN_RECHARGE
from gateway.oversight.store import NewViolation

RECHARGE_WINDOW = timedelta(hours=2)
RATE_MIN_VOIDS = 3
RATE_SHARE = Fraction(1, 5)

# A reversed void whose recipient was charged again for the same service at the same office soon after; the
# finding's time is the new charge's completion, which must fall in the scanned range.
_RECHARGES = """
SELECT v.id AS void_id, v.office_id, v.reason, v.finalized_at AS voided_at, v.tracking_code AS cancellation,
       c.id AS voided_charge_id, c.tracking_code AS voided_tracking_code, c.amount AS voided_amount,
       c.service_code, c.recipient_national_code,
       r.id AS recharge_id, r.tracking_code AS recharge_tracking_code, r.amount AS recharge_amount,
       r.completed_at AS recharged_at, r.terminal_id, r.operator_id
FROM voids v
JOIN charges c ON c.id = v.charge_id
CROSS JOIN LATERAL (
    SELECT r.id, r.tracking_code, r.amount, r.completed_at, r.terminal_id, r.operator_id
    FROM charges r
    WHERE r.office_id = c.office_id AND r.status = 'completed' AND r.recipient_national_code = c.recipient_national_code
      AND r.service_code = c.service_code AND r.completed_at > v.finalized_at
      AND r.completed_at <= v.finalized_at + $3::interval
    ORDER BY r.completed_at LIMIT 1
) r
WHERE v.status = 'reversed' AND v.finalized_at >= $1::timestamptz - $3::interval AND v.finalized_at < $2
  AND r.completed_at >= $1 AND r.completed_at < $2
"""

# Per office and Tehran day touched by a void finished in the scanned range: that day's voids and completed charges.
_DAY_RATES = """
WITH days AS (
    SELECT DISTINCT office_id, (finalized_at AT TIME ZONE 'Asia/Tehran')::date AS day
    FROM voids WHERE status = 'reversed' AND finalized_at >= $1 AND finalized_at < $2
)
SELECT d.office_id, d.day, vs.voids, vs.void_ids, vs.tracking_codes, vs.reasons, vs.last_at, cs.charges
FROM days d
CROSS JOIN LATERAL (
    SELECT count(*) AS voids, array_agg(v.id::text ORDER BY v.finalized_at) AS void_ids,
           array_agg(v.tracking_code ORDER BY v.finalized_at) AS tracking_codes,
           array_agg(v.reason ORDER BY v.finalized_at) AS reasons, max(v.finalized_at) AS last_at
    FROM voids v
    WHERE v.office_id = d.office_id AND v.status = 'reversed'
      AND v.finalized_at >= (d.day::timestamp AT TIME ZONE 'Asia/Tehran')
      AND v.finalized_at < ((d.day + 1)::timestamp AT TIME ZONE 'Asia/Tehran')
) vs
CROSS JOIN LATERAL (
    SELECT count(*) AS charges FROM charges c
    WHERE c.office_id = d.office_id AND c.status = 'completed'
      AND c.completed_at >= (d.day::timestamp AT TIME ZONE 'Asia/Tehran')
      AND c.completed_at < ((d.day + 1)::timestamp AT TIME ZONE 'Asia/Tehran')
) cs
WHERE vs.voids >= $3
"""


def recharge_violation(row) -> NewViolation:
    evidence = {
        "source": "voids",
        "void_id": str(row["void_id"]),
        "reason": row["reason"],
        "voided_charge_id": str(row["voided_charge_id"]),
        "voided_tracking_code": row["voided_tracking_code"],
        "cancellation_tracking_code": row["cancellation"],
        "voided_amount": row["voided_amount"],
        "voided_at": format_utc(row["voided_at"]),
        "recharge_charge_id": str(row["recharge_id"]),
        "recharge_tracking_code": row["recharge_tracking_code"],
        "recharge_amount": row["recharge_amount"],
        "recharged_at": format_utc(row["recharged_at"]),
        "seconds_between": int((row["recharged_at"] - row["voided_at"]).total_seconds()),
        "service_code": row["service_code"],
        "recipient_national_code": mask_national_code(row["recipient_national_code"]),
    }
    return NewViolation(
        office_id=row["office_id"],
        type=VOID_THEN_RECHARGE.code,
        evidence_key=f"recharge:{row['void_id']}",
        evidence=evidence,
        occurred_at=row["recharged_at"],
        terminal_id=row["terminal_id"],
        operator_id=row["operator_id"],
        service_code=row["service_code"],
        amount=row["recharge_amount"],
        excess=None,
    )


def rate_stands_out(voids: int, charges: int) -> bool:
    return voids >= RATE_MIN_VOIDS and Fraction(voids, max(charges, 1)) >= RATE_SHARE


def rate_violation(row) -> NewViolation:
    evidence = {
        "source": "voids",
        "day": row["day"].isoformat(),
        "voids": row["voids"],
        "charges_completed": row["charges"],
        "void_share": f"{Fraction(row['voids'], max(row['charges'], 1))}",
        "threshold": {"min_voids": RATE_MIN_VOIDS, "share": str(RATE_SHARE)},
        "void_ids": list(row["void_ids"]),
        "cancellation_tracking_codes": list(row["tracking_codes"]),
        "reasons": list(row["reasons"]),
    }
    return NewViolation(
        office_id=row["office_id"],
        type=VOID_RATE.code,
        evidence_key=f"void_rate:{row['day'].isoformat()}",
        evidence=evidence,
        occurred_at=row["last_at"],
        terminal_id=None,
        operator_id=None,
        service_code=None,
        amount=None,
        excess=None,
    )


async def void_findings(conn: asyncpg.Connection, since: datetime, until: datetime) -> list[NewViolation]:
    """The void findings whose evidence was recorded in [since, until)."""
    recharges = await conn.fetch(_RECHARGES, since, until, RECHARGE_WINDOW)
    days = await conn.fetch(_DAY_RATES, since, until, RATE_MIN_VOIDS)
    return [recharge_violation(row) for row in recharges] + [
        rate_violation(row) for row in days if rate_stands_out(row["voids"], row["charges"])
    ]
