"""An agency's settlement statement: every completed charge for its services on a day, with the agency's share
(its row of the split settlement: its IBAN and payment identifier), the cancellation receipt of a charge voided
since (`voided_by`: its share went back to the card, not to the agency), the cancellation receipt of a charge
refunded since (`refunded_by`, with `refund_status`: `instructed` while the PSP has still to take the share back in
a settlement, `settled` once a PSP file did), and the day's totals: the share returned counts voids and settled
refunds, the share pending return the refunds not settled yet."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.core.jalali import format_jalali_datetime, format_utc

COLUMNS = (
    "charge_id",
    "tracking_code",
    "completed_at",
    "completed_at_jalali",
    "office_id",
    "terminal_id",
    "psp_id",
    "rrn",
    "stan",
    "service_code",
    "amount",
    "agency_share",
    "iban",
    "payment_id",
    "voided_by",
    "refunded_by",
    "refund_status",
)


def statement_row(row: Mapping) -> dict:
    return {
        "charge_id": str(row["id"]),
        "tracking_code": row["tracking_code"],
        "completed_at": format_utc(row["completed_at"]),
        "completed_at_jalali": format_jalali_datetime(row["completed_at"]),
        "office_id": row["office_id"],
        "terminal_id": row["terminal_id"],
        "psp_id": row["psp_id"],
        "rrn": row["rrn"],
        "stan": row["stan"],
        "service_code": row["service_code"],
        "amount": row["amount"],
        "agency_share": row["agency_share"],
        "iban": row["iban"],
        "payment_id": row["payment_id"],
        "voided_by": row["voided_by"],
        "refunded_by": row["refunded_by"],
        "refund_status": row["refund_status"],
    }


def statement_totals(row: Mapping) -> dict:
    return {
        "charges": row["charges"],
        "amount": row["amount"],
        "agency_share": row["agency_share"],
        "agency_share_returned": row["agency_share_returned"],
        "agency_share_refund_pending": row["agency_share_refund_pending"],
    }
