"""Six-month Jalali periods, the regulator's ranking cycle: `1403-H1` is 1 Farvardin to 31 Shahrivar 1403,
`1403-H2` is 1 Mehr to the last day of Esfand (29 or 30).

Both halves begin at Tehran midnight, and on those two days Tehran was on UTC+03:30 even in the years it kept
summer time (summer time began after 1 Farvardin and ended at the start of 1 Mehr), so the UTC instants are exact.
Pure: no clocks, no files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import jdatetime

from gateway.core.jalali import day_start_utc, format_jalali_date, format_utc, to_tehran
from gateway.core.text import to_ascii_digits

_LABEL = re.compile(r"([0-9]{4})-H([12])")
FIRST_YEAR, LAST_YEAR = 1300, 1500  # the years a label may name; anything else is a typing mistake


@dataclass(frozen=True, order=True)
class HalfYear:
    year: int
    half: int  # 1 or 2

    def __post_init__(self) -> None:
        if self.half not in (1, 2):
            raise ValueError(f"no such six-month period: {self.year}-H{self.half}")

    @classmethod
    def parse(cls, label: str) -> HalfYear:
        """`"1403-H1"` (Persian digits allowed, `h` in either case) → the period; ValueError otherwise."""
        match = _LABEL.fullmatch(to_ascii_digits(label.strip()).upper())
        if match is None or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
            raise ValueError(
                f"{label!r} is not a six-month period written as YYYY-H1 or YYYY-H2 (years {FIRST_YEAR} to {LAST_YEAR})"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of_day(cls, day: jdatetime.date) -> HalfYear:
        return cls(day.year, 1 if day.month <= 6 else 2)

    @classmethod
    def containing(cls, at: datetime) -> HalfYear:
        """The period in which the instant `at` falls, on Tehran's calendar."""
        return cls.of_tehran_date(to_tehran(at).date())

    @classmethod
    def of_tehran_date(cls, day: date) -> HalfYear:
        return cls.of_day(jdatetime.date.fromgregorian(date=day))

    @property
    def label(self) -> str:
        return f"{self.year}-H{self.half}"

    @property
    def first_day(self) -> jdatetime.date:
        return jdatetime.date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def last_day(self) -> jdatetime.date:
        return self.next().first_day - jdatetime.timedelta(days=1)

    @property
    def starts_at(self) -> datetime:
        """UTC, inclusive."""
        return day_start_utc(self.first_day)

    @property
    def ends_before(self) -> datetime:
        """UTC, exclusive: the start of the next period."""
        return day_start_utc(self.next().first_day)

    def next(self) -> HalfYear:
        return HalfYear(self.year, 2) if self.half == 1 else HalfYear(self.year + 1, 1)

    def previous(self) -> HalfYear:
        return HalfYear(self.year, 1) if self.half == 2 else HalfYear(self.year - 1, 2)

    def as_dict(self) -> dict[str, str]:
        return {
            "label": self.label,
            "first_day": format_jalali_date(self.first_day),
            "last_day": format_jalali_date(self.last_day),
            "starts_at": format_utc(self.starts_at),
            "ends_before": format_utc(self.ends_before),
        }

    def __str__(self) -> str:
        return self.label
