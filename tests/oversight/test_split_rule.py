from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.tariffs import TariffBook
from gateway.oversight.split_charging import CompletedCharge, split_finding
from gateway.platform.config import Settings
from gateway.registry.tariff_files import load_tariff_documents

AT = datetime(2025, 1, 15, 8, 0, tzinfo=UTC)  # 1403/10/26: the 1403 sample approval prices 1101 at
CAP_1101 = 700_000  # 350,000 government fee + 350,000 office fee cap
SCAN_PAGE = 30_000


@pytest.fixture(scope="module")
def tariffs() -> TariffBook:
    return TariffBook.from_documents(load_tariff_documents(Settings().tariff_dir))


def charge(n: int, amount: int, minutes: float = 0, quantity: int = 1, extras=()) -> CompletedCharge:
    return CompletedCharge(
        id=f"c{n}",
        completed_at=AT + timedelta(minutes=minutes),
        amount=amount,
        quantity=quantity,
        extras=tuple(extras),
        operator_id="op-11",
        tracking_code=None,
    )


def judge(tariffs, current, *earlier, office_kind="counter"):
    return split_finding(current, earlier, service_code="1101", office_kind=office_kind, tariffs=tariffs)


def test_a_second_charge_that_takes_the_total_over_one_cap_is_a_finding(tariffs):
    first, second = charge(1, CAP_1101), charge(2, 400_000, minutes=5)
    finding = judge(tariffs, second, first)
    assert finding.quote.cap == CAP_1101 and finding.quote.approval_reference == "CRA-COM-1402-07"
    assert (finding.total, finding.excess) == (1_100_000, 400_000)
    assert [c.id for c in finding.window] == ["c1", "c2"]


def test_a_total_of_exactly_one_cap_is_no_finding(tariffs):
    assert judge(tariffs, charge(2, 350_000, minutes=1), charge(1, 350_000)) is None


def test_a_charge_with_nothing_before_it_is_no_finding(tariffs):
    assert judge(tariffs, charge(1, CAP_1101)) is None


def test_the_cap_allows_every_extra_and_the_largest_quantity_any_of_the_charges_carried(tariffs):
    first = charge(1, 400_000)
    second = charge(2, 300_000 + 3 * SCAN_PAGE, minutes=2, extras=[("scan_page", 3)])
    assert judge(tariffs, second, first) is None  # 790,000 ≤ 700,000 + 3 scanned pages
    third = charge(3, 10_000, minutes=3, extras=[("scan_page", 1)])
    finding = judge(tariffs, third, first, second)
    assert (finding.quote.cap, finding.total, finding.excess) == (790_000, 800_000, 10_000)
    doubled = charge(4, 600_000, minutes=4, quantity=2)
    assert judge(tariffs, doubled, first) is None  # two units: cap 1,400,000


def test_each_finding_is_the_part_of_its_charge_over_the_cap(tariffs):
    a, b, c = charge(1, 500_000), charge(2, 400_000, minutes=1), charge(3, 500_000, minutes=2)
    assert judge(tariffs, b, a).excess == 200_000
    assert judge(tariffs, c, a, b).excess == 500_000  # all of it: the window was already over the cap
    assert judge(tariffs, b, a).excess + judge(tariffs, c, a, b).excess == 500_000 + 400_000 + 500_000 - CAP_1101


def test_the_office_kind_decides_the_cap(tariffs):
    finding = judge(tariffs, charge(2, 350_000, minutes=1), charge(1, 500_000), office_kind="rural_ict")
    assert finding is not None and finding.quote.cap < CAP_1101


def test_charges_no_tariff_prices_are_left_alone(tariffs):
    old = datetime(2000, 1, 1, tzinfo=UTC)
    first = CompletedCharge("c1", old, 500_000, 1, (), "op-11", None)
    second = CompletedCharge("c2", old + timedelta(minutes=1), 500_000, 1, (), "op-11", None)
    assert judge(tariffs, second, first) is None
