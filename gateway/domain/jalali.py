"""Jalali (Solar Hijri) calendar days in Tehran, and the UTC instants they map to.

Instants are stored and compared in UTC; Jalali dates exist for people (tariff approvals,
receipts). Iran abolished daylight saving time in 2022, so Tehran is a fixed UTC+03:30; every
Jalali day below starts at Tehran midnight. (Before 1401/06/30 Tehran kept summer time, but a
1 Farvardin midnight was still UTC+03:30 then, so yearly approval boundaries are exact anyway.)
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import jdatetime

from gateway.domain.text import to_ascii_digits

TEHRAN = timezone(timedelta(hours=3, minutes=30), "+0330")

_JALALI_DATE = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})")


def parse_jalali_date(text: str) -> jdatetime.date:
    """`"1403/01/01"` (Persian digits allowed) → the Jalali date; ValueError when malformed or not a real day."""
    match = _JALALI_DATE.fullmatch(to_ascii_digits(text))
    if match is None:
        raise ValueError(f"{text!r} is not a Jalali date written as YYYY/MM/DD")
    year, month, day = map(int, match.groups())
    try:
        return jdatetime.date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the Jalali calendar") from None


def format_jalali_date(day: jdatetime.date) -> str:
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def day_start_utc(day: jdatetime.date) -> datetime:
    """The UTC instant at which this Jalali day begins in Tehran."""
    gregorian = day.togregorian()
    tehran_midnight = datetime(gregorian.year, gregorian.month, gregorian.day, tzinfo=TEHRAN)
    return tehran_midnight.astimezone(timezone.utc)


def require_aware(at: datetime) -> datetime:
    """Return `at` unchanged; a naive datetime is refused because it names no instant."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return at


def to_tehran(at: datetime) -> datetime:
    """The same instant on Tehran's wall clock."""
    return require_aware(at).astimezone(TEHRAN)


def format_jalali_datetime(at: datetime) -> str:
    """`"1405/09/02 11:45:00"`: an instant as Tehran's Jalali date and wall-clock time, for display."""
    local = to_tehran(at)
    day = jdatetime.date.fromgregorian(date=local.date())
    return f"{format_jalali_date(day)} {local:%H:%M:%S}"


def format_utc(at: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, e.g. `"2024-03-19T20:30:00Z"`."""
    utc = require_aware(at).astimezone(timezone.utc)
    return utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")
