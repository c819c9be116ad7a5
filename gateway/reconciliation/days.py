"""The day a statement or a reconciliation report covers: a calendar day in Asia/Tehran, as a UTC interval."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import jdatetime

from gateway.domain.jalali import TEHRAN, format_jalali_date
from gateway.domain.text import to_ascii_digits

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_YEAR, LAST_YEAR = 1900, 2999


@dataclass(frozen=True)
class TehranDay:
    day: date
    start: datetime   # UTC, inclusive
    end: datetime     # UTC, exclusive

    @property
    def jalali(self) -> str:
        return format_jalali_date(jdatetime.date.fromgregorian(date=self.day))


def tehran_day(day: date) -> TehranDay:
    start = datetime(day.year, day.month, day.day, tzinfo=TEHRAN).astimezone(timezone.utc)
    return TehranDay(day, start, start + timedelta(days=1))


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


def day_of(moment: datetime) -> date:
    """The Tehran calendar day an instant falls on."""
    return moment.astimezone(TEHRAN).date()
