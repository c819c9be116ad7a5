"""Reading the receipts the offices have issued."""

from __future__ import annotations

from gateway.core.identifiers import InvalidIdentifier, parse_tracking_code

# A tracking code is its receipt's office code and sequence number with a check digit, so a receipt is looked up by
# (office_id, seq) through the primary key (receipts_pkey), the tracking code compared on the row found; a code that
# is not well formed names no receipt. Receipts are partitioned by the month they were issued in (docs/scaling.md),
# and a tracking code does not say which. Nearly every look-up is of a recent receipt (printed at the counter, sent
# to the inbox, verified from its SMS), so the look-up reads this month's and last month's partitions first, and the
# older ones only when the code is not among those: one statement, the older branch gated by a one-time condition
# that skips it entirely otherwise. The recent months end a day ahead of the database's clock, for a gateway host
# whose clock runs ahead of it.
_RECENT = "issued_at >= date_trunc('month', now() - interval '1 month') AND issued_at < now() + interval '1 day'"
_RECEIPT_COLUMNS = "office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed, kind"
_BY_CODE = "office_id = $1 AND seq = $2 AND tracking_code = $3"

_GET_RECEIPT = f"""
WITH recent AS (SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE {_BY_CODE} AND {_RECENT})
SELECT * FROM recent
UNION ALL
SELECT {_RECEIPT_COLUMNS} FROM receipts
WHERE NOT EXISTS (SELECT 1 FROM recent) AND {_BY_CODE} AND NOT ({_RECENT})
"""

_SIGNED_RECEIPTS = f"""
WITH wanted AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) AS w(office_id, seq, tracking_code)),
recent AS (SELECT r.tracking_code, r.signed FROM wanted w
           JOIN receipts r ON r.office_id = w.office_id AND r.seq = w.seq AND r.tracking_code = w.tracking_code
           WHERE {_RECENT})
SELECT * FROM recent
UNION ALL
SELECT r.tracking_code, r.signed FROM wanted w
JOIN receipts r ON r.office_id = w.office_id AND r.seq = w.seq AND r.tracking_code = w.tracking_code
WHERE (SELECT count(*) FROM recent) < cardinality($1::text[]) AND NOT ({_RECENT})
"""


def receipt_key(tracking_code: str) -> tuple[str, int] | None:
    """The (office_id, seq) a tracking code names, or None for a code that is not well formed."""
    try:
        return parse_tracking_code(tracking_code)
    except InvalidIdentifier:
        return None


async def get_receipt(db, tracking_code: str):
    """The receipt of this tracking code, or None (also for a code that is not well formed)."""
    key = receipt_key(tracking_code)
    return None if key is None else await db.fetchrow(_GET_RECEIPT, *key, tracking_code)


async def signed_receipts(db, tracking_codes: list[str]) -> dict[str, dict]:
    """The signed receipts of these tracking codes (those that exist), in one statement."""
    keys = {code: key for code in tracking_codes if (key := receipt_key(code)) is not None}
    rows = await db.fetch(
        _SIGNED_RECEIPTS,
        [office for office, _ in keys.values()],
        [seq for _, seq in keys.values()],
        list(keys),
    )
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
