"""Query-string values shared by the routes: whole numbers and instants, parsed so that no input can reach `int()`
of thousands of digits, a digit `isdigit()` accepts and `int()` refuses, or an instant at the calendar's edge whose
arithmetic overflows. Persian and Arabic-Indic digits are read as ASCII ones."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.core.jalali import FIRST_YEAR, LAST_YEAR
from gateway.core.text import normalize_persian
from gateway.web.errors import invalid_request


def whole_number(raw: str, name: str, minimum: int, maximum: int) -> int:
    """`raw` as a whole number from `minimum` to `maximum`; 400 naming `name` otherwise."""
    text = normalize_persian(raw).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(maximum))) or not (
        minimum <= int(text) <= maximum
    ):
        raise invalid_request(f"`{name}` must be a whole number from {minimum} to {maximum}.", param=name)
    return int(text)


def parse_instant(raw: str, name: str) -> datetime:
    """An RFC 3339 instant with any UTC offset, from the years FIRST_YEAR to LAST_YEAR, in UTC; 400 naming `name`
    otherwise."""
    problem = invalid_request(
        f"`{name}` must be an RFC 3339 timestamp with a time zone (e.g. ...Z), from the years {FIRST_YEAR} to "
        f"{LAST_YEAR}.",
        param=name,
    )
    text = normalize_persian(raw).strip()
    if not text.isascii():
        raise problem
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise problem
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise problem from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise problem
    return moment
