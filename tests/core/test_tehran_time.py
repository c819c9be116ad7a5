"""Tehran time is the IANA zone Asia/Tehran: older instants show the clock of their day (Iran kept summer time until
2022), and every instant is answered in UTC with a Z whatever the host's own zone."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.core.jalali import format_jalali_datetime, format_utc, tehran_date, tehran_day
from gateway.web.charge_view import charge_view
from tests.core.support import charge as completed_charge


@pytest.fixture
def host_in_tehran() -> Iterator[None]:
    """The process's local zone set to Asia/Tehran, as on a server installed in Iran."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tehran"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_summer_instant_before_2022_shows_the_summer_clock():
    # 1398/04/10 12:00 Tehran summer time (+04:30) was 07:30 UTC.
    assert format_jalali_datetime(datetime(2019, 7, 1, 7, 30, tzinfo=UTC)) == "1398/04/10 12:00:00"
    # Since 1401 (2022) Tehran keeps +03:30 all year.
    assert format_jalali_datetime(datetime(2024, 7, 1, 8, 30, tzinfo=UTC)) == "1403/04/11 12:00:00"


def test_the_days_summer_time_began_and_ended_were_23_and_25_hours_long():
    began, ended, plain = tehran_day(date(2019, 3, 22)), tehran_day(date(2019, 9, 21)), tehran_day(date(2024, 3, 22))
    assert began.end - began.start == timedelta(hours=23)
    assert ended.end - ended.start == timedelta(hours=25)
    assert plain.end - plain.start == timedelta(hours=24)
    assert began.start == datetime(2019, 3, 21, 20, 30, tzinfo=UTC)


def test_the_tehran_date_of_an_instant_near_midnight():
    assert tehran_date(datetime(2024, 3, 19, 20, 29, tzinfo=UTC)) == date(2024, 3, 19)
    assert tehran_date(datetime(2024, 3, 19, 20, 30, tzinfo=UTC)) == date(2024, 3, 20)


def test_instants_are_answered_in_utc_whatever_the_hosts_zone(host_in_tehran):
    created = datetime(2026, 12, 6, 9, 0, 0, 123000, tzinfo=ZoneInfo("Asia/Tehran"))
    charge = dataclasses.replace(
        completed_charge(),
        verify_deadline=created + timedelta(minutes=20),
        created_at=created,
        completed_at=created.astimezone(),
    )
    view = charge_view(charge)
    assert view["created_at"] == view["completed_at"] == "2026-12-06T05:30:00.123000Z"
    assert format_utc(datetime(2026, 12, 6, 9, 0).astimezone()) == "2026-12-06T05:30:00Z"
