"""Split settlement (تسهیم): how one card payment settles to several IBANs.

The government share goes to the agency's IBAN with the agency's payment identifier (شناسه پرداخت);
the office fee and the extras go to the office's IBAN as an ordinary row (payment identifier "0").
Rows to the same (IBAN, payment identifier) merge, empty rows are left out, and the rows always sum
to the amount collected (a `Charged` always adds up, and merging only regroups its parts).
"""

from __future__ import annotations

import re

from gateway.core.identifiers import InvalidIdentifier, parse_iban
from gateway.core.psp import SettlementRow
from gateway.core.tariffs import Charged

ORDINARY_PAYMENT_ID = "0"

# An agency payment identifier is numeric (up to 30 digits) and never all zeros: zero marks an ordinary row.
_AGENCY_PAYMENT_ID = re.compile(r"[0-9]{1,30}")


class SettlementError(ValueError):
    """A payment that cannot be split as configured."""


def _destinations(
    agency_iban: str, agency_payment_id: str, office_iban: str
) -> tuple[tuple[str, str], tuple[str, str]]:
    """(agency, office) destinations, checked: IBANs in canonical form, a real agency payment identifier."""
    for role, iban in (("agency", agency_iban), ("office", office_iban)):
        try:
            canonical = parse_iban(iban)
        except InvalidIdentifier as error:
            raise SettlementError(f"{role} IBAN {iban!r}: {error.message}") from None
        if canonical != iban:
            raise SettlementError(f"{role} IBAN {iban!r} is not in canonical form ({canonical})")
    if not _AGENCY_PAYMENT_ID.fullmatch(agency_payment_id) or not agency_payment_id.strip("0"):
        raise SettlementError(f"agency payment identifier {agency_payment_id!r} must be 1-30 digits, not all zeros")
    return (agency_iban, agency_payment_id), (office_iban, ORDINARY_PAYMENT_ID)


def rows_needed(agency_iban: str, agency_payment_id: str, office_iban: str) -> int:
    """The most settlement rows any charge to this agency at this office can produce.

    For loading the registry: a configuration whose count exceeds a PSP's `split_row_limit` can never be paid
    through that PSP. Raises SettlementError for malformed IBANs or payment identifiers.
    """
    return len(set(_destinations(agency_iban, agency_payment_id, office_iban)))


def build_settlement_rows(
    charged: Charged, agency_iban: str, agency_payment_id: str, office_iban: str, row_limit: int
) -> tuple[SettlementRow, ...]:
    """The settlement rows for one collected amount, in destination order (agency first)."""
    agency, office = _destinations(agency_iban, agency_payment_id, office_iban)
    amounts: dict[tuple[str, str], int] = {}
    for destination, amount in (
        (agency, charged.government_share),
        (office, charged.office_fee),
        *((office, extra.amount) for extra in charged.extras),
    ):
        amounts[destination] = amounts.get(destination, 0) + amount

    rows = tuple(
        SettlementRow(iban=iban, amount=amount, payment_id=payment_id)
        for (iban, payment_id), amount in amounts.items()
        if amount > 0
    )
    if len(rows) > row_limit:
        raise SettlementError(f"{len(rows)} settlement rows needed, the PSP accepts at most {row_limit}")
    return rows
