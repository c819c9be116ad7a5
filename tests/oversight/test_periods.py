from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.jalali import format_jalali_date
from gateway.core.periods import HalfYear

UTC = UTC


def test_a_label_names_a_half_of_a_jalali_year():
    assert HalfYear.parse("1403-H1") == HalfYear(1403, 1)
    assert HalfYear.parse(" ۱۴۰۳-h2 ") == HalfYear(1403, 2)
    assert HalfYear(1403, 2).label == str(HalfYear(1403, 2)) == "1403-H2"


@pytest.mark.parametrize("label", ["1403-H3", "1403H1", "1403-H", "03-H1", "1403-h1-x", "", "1200-H1"])
def test_labels_that_name_no_period_are_refused(label):
    with pytest.raises(ValueError):
        HalfYear.parse(label)


def test_the_halves_run_farvardin_to_shahrivar_and_mehr_to_esfand():
    first, second = HalfYear(1403, 1), HalfYear(1403, 2)
    assert (format_jalali_date(first.first_day), format_jalali_date(first.last_day)) == ("1403/01/01", "1403/06/31")
    assert (format_jalali_date(second.first_day), format_jalali_date(second.last_day)) == ("1403/07/01", "1403/12/30")
    assert format_jalali_date(HalfYear(1402, 2).last_day) == "1402/12/29"  # 1402 is not a leap year


def test_the_utc_bounds_are_tehran_midnights():
    period = HalfYear(1403, 1)
    assert period.starts_at == datetime(2024, 3, 19, 20, 30, tzinfo=UTC)  # 1403/01/01 00:00 +03:30
    assert period.ends_before == datetime(2024, 9, 21, 20, 30, tzinfo=UTC)  # 1403/07/01 00:00 +03:30
    assert period.ends_before == period.next().starts_at
    assert HalfYear.containing(period.ends_before - timedelta(microseconds=1)) == period
    assert HalfYear.containing(period.ends_before) == HalfYear(1403, 2)


def test_next_and_previous_cross_the_new_year():
    assert HalfYear(1403, 2).next() == HalfYear(1404, 1)
    assert HalfYear(1404, 1).previous() == HalfYear(1403, 2)
    assert HalfYear(1403, 1) < HalfYear(1403, 2) < HalfYear(1404, 1)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_every_instant_falls_in_the_period_that_contains_it(moment):
    period = HalfYear.containing(moment)
    assert period.starts_at <= moment < period.ends_before
    assert HalfYear.parse(period.label) == period
