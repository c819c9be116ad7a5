"""The reconciliation report of a day: every settlement row classified, and the totals that balance.

For every row, `difference = collected - settled - returned` (a side with no row counts 0; `returned` is the row of a
voided charge, gone back to the card, or a row a refund takes back), so for any group of rows collected = settled +
returned + the sum of the differences. Matched, settled-late and returned rows carry no difference; a row settled to
the wrong IBAN carries the amounts the two sides name, listed with both IBANs; a voided charge's row settled all the
same carries minus itself. A refund's row collects nothing and the PSP's refund line settles it negatively, so a
refunded row carries no difference, and a refund's row that no file has taken back yet carries minus itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from gateway.core.jalali import TehranDay, format_utc

# A day's purchases are due in the PSP's settlement of that day or the next (Shaparak's next-day cycle);
# a later settlement date is "settled late".
SETTLEMENT_DUE_DAYS = 1
# How long after the PSP's transaction time the gateway may complete the charge for the two still to pair. The
# gateway completes a charge within its PSP's verify deadline, which the registry caps at 24 hours.
PAIRING_MARGIN = timedelta(days=1)
# The longest stretch of PSP transaction times one report reads: the margin and the day (25 hours long when summer
# time ended, until 2022). Two rows with the same references closer than this may meet in a report, where only the
# first pairs: the later is kept as a repeat when its file is imported (store.keep_repeats; migration 0189).
REPEAT_SPAN = PAIRING_MARGIN + timedelta(hours=25)


class Kind(StrEnum):
    MATCHED = "matched"
    MISSING_AT_PSP = "missing_at_psp"  # the gateway collected it; no PSP file settled it
    MISSING_AT_GATEWAY = "missing_at_gateway"  # a PSP settled it; the gateway collected no such row
    AMOUNT_MISMATCH = "amount_mismatch"
    WRONG_IBAN = "wrong_iban"
    SETTLED_LATE = "settled_late"
    RETURNED = "returned"  # the charge was voided: the row went back to the card, and no PSP file settled it
    SETTLED_AFTER_VOID = "settled_after_void"  # the charge was voided, and a PSP file settled the row all the same
    REFUNDED = "refunded"  # a refund's row, taken back by the PSP's negative line under the refund's RRN
    REFUND_PENDING = "refund_pending"  # a refund's row the PSP's files have not taken back (yet)


@dataclass(frozen=True)
class MatchScope:
    day: tuple[datetime, datetime]  # the charges completed (and refunds instructed) here are the day's
    psp_rows: tuple[datetime, datetime]  # PSP rows are read by their transaction time from this interval
    later: tuple[datetime, datetime]  # a PSP row of the day that a charge completed here pairs with is not the day's
    last_on_time: date  # the latest settlement date that is not late


def match_scope(day: TehranDay) -> MatchScope:
    return MatchScope(
        day=(day.start, day.end),
        psp_rows=(day.start - PAIRING_MARGIN, day.end),
        later=(day.end, day.end + PAIRING_MARGIN),
        last_on_time=day.day + timedelta(days=SETTLEMENT_DUE_DAYS),
    )


def _bucket() -> dict:
    return {"rows": 0, "collected": 0, "settled": 0, "returned": 0, "difference": 0}


def _add(into: dict, row: Mapping) -> None:
    into["rows"] += row["rows"]
    into["collected"] += row["collected"]
    into["settled"] += row["settled"]
    into["returned"] += row["returned"]
    into["difference"] += row["collected"] - row["settled"] - row["returned"]


def _group() -> dict:
    return {**_bucket(), "by_kind": {kind.value: _bucket() for kind in Kind}}


def summarise(sums: Iterable[Mapping]) -> dict:
    """The totals, per PSP and per agency, from `match_day`'s sums (psp_id, agency_id, kind, rows, collected,
    settled, returned). Per agency, a row counts for the agency it pays; the offices' own rows (payment identifier 0)
    are under agency_id null."""
    totals = _group()
    by_psp: dict[str, dict] = {}
    by_agency: dict[str | None, dict] = {}
    for row in sums:
        for group in (
            totals,
            by_psp.setdefault(row["psp_id"], _group()),
            by_agency.setdefault(row["agency_id"], _group()),
        ):
            _add(group, row)
            _add(group["by_kind"][row["kind"]], row)
    return {
        "totals": totals,
        "by_psp": [{"psp_id": psp_id, **group} for psp_id, group in sorted(by_psp.items())],
        "by_agency": [
            {"agency_id": agency_id, **group}
            for agency_id, group in sorted(by_agency.items(), key=lambda item: (item[0] is None, item[0]))
        ],
    }


def discrepancies(listed: Iterable[Mapping]) -> list[dict]:
    """The rows that did not match, from `match_day`'s discrepancies, in the report's order: each row as many times
    as it was counted, with the charge that a PSP row with no charge side names all the same."""
    rows = []
    for group in sorted(listed, key=lambda group: group["place"]):
        row = dict(group["listed"].items())
        if row["charge_id"] is None:
            row.update(
                charge_id=group["named_charge_id"],
                charge_status=group["named_charge_status"],
                tracking_code=group["named_tracking_code"],
            )
        rows += [row] * group["rows"]
    return rows


ROW_COLUMNS = (
    "kind",
    "psp_id",
    "agency_id",
    "office_id",
    "terminal_id",
    "rrn",
    "stan",
    "payment_id",
    "charge_id",
    "charge_status",
    "tracking_code",
    "expected_iban",
    "settled_iban",
    "collected",
    "settled",
    "returned",
    "difference",
    "completed_at",
    "transaction_time",
    "settlement_date",
    "file_id",
    "line",
)


def row_view(row: Mapping) -> dict:
    """One classified row: the charge side (charge, completion, expected IBAN) and the PSP side (file and line,
    transaction time, settled IBAN, settlement date); fields of a side with no row are null."""
    return {
        "kind": row["kind"],
        "psp_id": row["psp_id"],
        "agency_id": row["agency_id"],
        "office_id": row["office_id"],
        "terminal_id": row["terminal_id"],
        "rrn": row["rrn"],
        "stan": row["stan"],
        "payment_id": row["payment_id"],
        "charge_id": str(row["charge_id"]) if row["charge_id"] else None,
        "charge_status": row["charge_status"],
        "tracking_code": row["tracking_code"],
        "expected_iban": row["expected_iban"],
        "settled_iban": row["settled_iban"],
        "collected": row["collected"],
        "settled": row["settled"],
        "returned": row["returned"],
        "difference": row["collected"] - row["settled"] - row["returned"],
        "completed_at": format_utc(row["completed_at"]) if row["completed_at"] else None,
        "transaction_time": format_utc(row["transaction_time"]) if row["transaction_time"] else None,
        "settlement_date": row["settlement_date"].isoformat() if row["settlement_date"] else None,
        "file_id": row["file_id"],
        "line": row["line"],
    }
