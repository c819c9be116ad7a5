"""Jalali (Solar Hijri) calendar days in Tehran, and the UTC instants they map to.

Instants are stored and compared in UTC; Jalali dates and Tehran wall-clock times exist for people (tariff
approvals, receipts, statements). `TEHRAN` is the one Tehran zone of the gateway: the IANA zone Asia/Tehran, not a
fixed +03:30, because Iran kept summer time (+04:30) until 2022 and older instants must show the clock of their day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import jdatetime

from gateway.core.text import to_ascii_digits

TEHRAN = ZoneInfo("Asia/Tehran")

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
    return _tehran_midnight_utc(day.togregorian())


def require_aware(at: datetime) -> datetime:
    """Return `at` unchanged; a naive datetime is refused because it names no instant."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return at


def to_tehran(at: datetime) -> datetime:
    """The same instant on Tehran's wall clock."""
    return require_aware(at).astimezone(TEHRAN)


def tehran_date(at: datetime) -> date:
    """The Tehran calendar day an instant falls on."""
    return to_tehran(at).date()


def format_jalali_datetime(at: datetime) -> str:
    """`"1405/09/02 11:45:00"`: an instant as Tehran's Jalali date and wall-clock time, for display."""
    local = to_tehran(at)
    day = jdatetime.date.fromgregorian(date=local.date())
    return f"{format_jalali_date(day)} {local:%H:%M:%S}"


def format_utc(at: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, e.g. `"2024-03-19T20:30:00Z"`."""
    utc = require_aware(at).astimezone(UTC)
    return utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- a Tehran calendar day as a UTC interval

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_YEAR, LAST_YEAR = 1900, 2999


@dataclass(frozen=True)
class TehranDay:
    day: date
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    @property
    def jalali(self) -> str:
        return format_jalali_date(jdatetime.date.fromgregorian(date=self.day))


def tehran_day(day: date) -> TehranDay:
    """The day from Tehran midnight to the next (23 or 25 hours on the days summer time began or ended)."""
    return TehranDay(day, _tehran_midnight_utc(day), _tehran_midnight_utc(day + timedelta(days=1)))


def _tehran_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TEHRAN).astimezone(UTC)


def parse_day(text: str) -> TehranDay:
    """`"2025-03-04"` (Persian digits allowed) → that day in Tehran; ValueError when it is not a real date, or
    falls outside the years 1900 to 2999 (which keeps every interval around it a representable instant)."""
    ascii_text = to_ascii_digits(text.strip())
    if not _ISO_DATE.fullmatch(ascii_text):
        raise ValueError(f"{text!r} is not a date written as YYYY-MM-DD")
    day = date.fromisoformat(ascii_text)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"{text!r} is not a day from {FIRST_YEAR} to {LAST_YEAR}")
    return tehran_day(day)
