from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban

from gateway.core.psp import SettlementRow
from gateway.core.settlement import SettlementError, build_settlement_rows, rows_needed
from gateway.core.tariffs import Charged, ChargedExtra, TariffBook

NOW = datetime(2026, 11, 23, 8, 15, tzinfo=UTC)


def make_iban(account: str) -> str:
    bban = account.rjust(22, "0")
    return "IR" + stdnum_iban.calc_check_digits("IR00" + bban) + bban


AGENCY_IBAN = make_iban("0170000000100200300")
OFFICE_IBAN = make_iban("0560000000987654321")
AGENCY_PAYMENT_ID = "300101000000123"


def charged(government_share, office_fee, *extras):
    return Charged(
        approval_reference="T-1",
        service_code="1101",
        quantity=1,
        total=government_share + office_fee + sum(extras),
        government_share=government_share,
        office_fee=office_fee,
        extras=tuple(ChargedExtra(f"x{i}", "مورد", 1, amount) for i, amount in enumerate(extras)),
    )


def rows(charge, row_limit=7, agency_iban=AGENCY_IBAN, office_iban=OFFICE_IBAN):
    return build_settlement_rows(charge, agency_iban, AGENCY_PAYMENT_ID, office_iban, row_limit)


def test_government_share_goes_to_the_agency_and_the_rest_merges_into_one_office_row():
    assert rows(charged(300_000, 250_000, 60_000, 5_000)) == (
        SettlementRow(iban=AGENCY_IBAN, amount=300_000, payment_id=AGENCY_PAYMENT_ID),
        SettlementRow(iban=OFFICE_IBAN, amount=315_000, payment_id="0"),
    )


def test_empty_rows_are_left_out():
    assert rows(charged(0, 200_000, 0)) == (SettlementRow(iban=OFFICE_IBAN, amount=200_000, payment_id="0"),)
    assert rows(charged(300_000, 0, 0)) == (
        SettlementRow(iban=AGENCY_IBAN, amount=300_000, payment_id=AGENCY_PAYMENT_ID),
    )


def test_one_iban_still_takes_two_rows_because_payment_ids_differ():
    assert [(r.iban, r.payment_id) for r in rows(charged(1, 2, 3), office_iban=AGENCY_IBAN)] == [
        (AGENCY_IBAN, AGENCY_PAYMENT_ID),
        (AGENCY_IBAN, "0"),
    ]


def test_more_rows_than_the_psp_accepts_is_refused():
    with pytest.raises(SettlementError, match="at most 1"):
        rows(charged(300_000, 250_000), row_limit=1)
    assert len(rows(charged(0, 250_000), row_limit=1)) == 1


def test_rows_needed_lets_the_registry_refuse_a_psp_that_cannot_split():
    assert rows_needed(AGENCY_IBAN, AGENCY_PAYMENT_ID, OFFICE_IBAN) == 2


@pytest.mark.parametrize(
    ("agency_iban", "payment_id", "office_iban", "message"),
    [
        ("IR" + "0" * 24, AGENCY_PAYMENT_ID, OFFICE_IBAN, "agency IBAN"),
        (AGENCY_IBAN, AGENCY_PAYMENT_ID, OFFICE_IBAN.lower(), "office IBAN .* canonical"),
        (AGENCY_IBAN, "0", OFFICE_IBAN, "payment identifier"),
        (AGENCY_IBAN, "000", OFFICE_IBAN, "payment identifier"),
        (AGENCY_IBAN, "12-34", OFFICE_IBAN, "payment identifier"),
        (AGENCY_IBAN, "1" * 31, OFFICE_IBAN, "payment identifier"),
    ],
)
def test_malformed_accounts_are_refused(agency_iban, payment_id, office_iban, message):
    with pytest.raises(SettlementError, match=message):
        rows_needed(agency_iban, payment_id, office_iban)
    with pytest.raises(SettlementError, match=message):
        build_settlement_rows(charged(1, 1), agency_iban, payment_id, office_iban, 7)


def test_a_charge_whose_parts_do_not_add_up_cannot_exist():
    with pytest.raises(ValueError):
        Charged(
            approval_reference="T-1",
            service_code="1101",
            quantity=1,
            total=10,
            government_share=5,
            office_fee=4,
            extras=(),
        )
    with pytest.raises(ValueError):
        Charged(
            approval_reference="T-1",
            service_code="1101",
            quantity=1,
            total=10,
            government_share=12,
            office_fee=-2,
            extras=(),
        )


@given(
    government_fee=st.integers(0, 10_000_000),
    office_fee_cap=st.integers(1, 5_000_000),
    extra_caps=st.lists(st.integers(1, 200_000), max_size=5),
    data=st.data(),
)
def test_rows_always_sum_to_the_amount_collected(government_fee, office_fee_cap, extra_caps, data):
    book = TariffBook.from_documents(
        [
            {
                "approval": {
                    "reference": "T-1",
                    "approving_body": "آزمایشی",
                    "session": "آزمایشی",
                    "approved_on": "1402/12/20",
                    "effective_from": "1403/01/01",
                },
                "services": {
                    "1101": {
                        "government_fee": government_fee,
                        "office_fee_cap": office_fee_cap,
                        "extras": {f"x{i}": {"name": "مورد", "unit_cap": cap} for i, cap in enumerate(extra_caps)},
                    }
                },
            }
        ]
    )
    quote = book.quote("1101", 1, [(f"x{i}", 1) for i in range(len(extra_caps))], "counter", NOW)
    charge = quote.check(data.draw(st.integers(max(1, quote.government_share), quote.cap)))

    settlement = rows(charge)
    assert sum(row.amount for row in settlement) == charge.total
    assert all(row.amount > 0 for row in settlement)
    assert len({(row.iban, row.payment_id) for row in settlement}) == len(settlement)
    assert len(settlement) <= rows_needed(AGENCY_IBAN, AGENCY_PAYMENT_ID, OFFICE_IBAN)
    agency_rows = [row for row in settlement if row.payment_id == AGENCY_PAYMENT_ID]
    assert sum(row.amount for row in agency_rows) == charge.government_share
