"""Reading the receipts the offices have issued."""

from __future__ import annotations

# Receipts are partitioned by the month they were issued in (docs/scaling.md), and a tracking code does not say which.
# Nearly every look-up is of a recent receipt (printed at the counter, sent to the inbox, verified from its SMS), so
# the look-up reads this month's and last month's partitions first, and the older ones only when the code is not
# among those: one statement, the older branch gated by a one-time condition that skips it entirely otherwise. The
# recent months end a day ahead of the database's clock, for a gateway host whose clock runs ahead of it.
_RECENT = "issued_at >= date_trunc('month', now() - interval '1 month') AND issued_at < now() + interval '1 day'"
_RECEIPT_COLUMNS = "office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed, kind"

_GET_RECEIPT = f"""
WITH recent AS (SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE tracking_code = $1 AND {_RECENT})
SELECT * FROM recent
UNION ALL
SELECT {_RECEIPT_COLUMNS} FROM receipts
WHERE NOT EXISTS (SELECT 1 FROM recent) AND tracking_code = $1 AND NOT ({_RECENT})
"""

_SIGNED_RECEIPTS = f"""
WITH recent AS (SELECT tracking_code, signed FROM receipts WHERE tracking_code = ANY($1::text[]) AND {_RECENT})
SELECT * FROM recent
UNION ALL
SELECT tracking_code, signed FROM receipts
WHERE (SELECT count(*) FROM recent) < cardinality($1::text[]) AND tracking_code = ANY($1::text[])
  AND NOT ({_RECENT})
"""


async def get_receipt(db, tracking_code: str):
    return await db.fetchrow(_GET_RECEIPT, tracking_code)


async def signed_receipts(db, tracking_codes: list[str]) -> dict[str, dict]:
    """The signed receipts of these tracking codes (those that exist), in one statement."""
    rows = await db.fetch(_SIGNED_RECEIPTS, tracking_codes)
    return {row["tracking_code"]: row["signed"] for row in rows}


async def chain_neighbours(db, office_id: str, seq: int) -> tuple[str | None, str | None]:
    """The hash of the office's previous receipt and the prev_hash its next receipt carries (None where absent)."""
    rows = await db.fetch(
        "SELECT seq, hash, prev_hash FROM receipts WHERE office_id = $1 AND seq IN ($2, $3)",
        office_id,
        seq - 1,
        seq + 1,
    )
    by_seq = {r["seq"]: r for r in rows}
    previous, following = by_seq.get(seq - 1), by_seq.get(seq + 1)
    return (previous["hash"] if previous else None, following["prev_hash"] if following else None)


async def issued_between(db, office_id: str, start, end) -> list[dict]:
    """An office's signed receipts issued in [start, end), in chain order."""
    rows = await db.fetch(
        "SELECT signed FROM receipts WHERE office_id = $1 AND issued_at >= $2 AND issued_at < $3 ORDER BY seq",
        office_id,
        start,
        end,
    )
    return [row["signed"] for row in rows]


async def counterpart(db, office_id: str, charge_id, kind: str):
    """The charge's other receipt: its cancellation for a receipt (None while it is not voided), or the receipt a
    cancellation cancels."""
    other = "charge" if kind == "cancellation" else "cancellation"
    return await db.fetchrow(
        "SELECT tracking_code, hash, signed FROM receipts WHERE office_id = $1 AND charge_id = $2 AND kind = $3",
        office_id,
        charge_id,
        other,
    )
