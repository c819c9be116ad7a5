"""Reading a PSP file's lines into typed records, checking every field against the format as it streams by.

A line that breaks a rule stops the reading with FileRejected naming the line (the header is line 1). Blank
lines carry nothing and are skipped; a field may not hold a line break. Every record starts with its line number,
so a kept row can be traced back to its place in the file.

Each field is described once (`_Field`). A line is first read with one expression built from those descriptions,
for fields written without CSV quotes, which is most lines and several times faster; a line it does not fit is
read field by field with the csv module, which accepts quoting too and says what is wrong.
"""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime

from psp_adapters.daily_files import COLUMNS, FEED_STATUSES, MONEY_TAKEN, FileKind, FileRejected


class _Invalid(ValueError):
    pass


@dataclass(frozen=True)
class _Field:
    pattern: str  # what a valid value looks like
    rule: str  # the same, for people
    convert: Callable[[str], object] = str  # the typed value; _Invalid when it names nothing real
    optional: bool = False
    unquoted: str | None = None  # the pattern without `,` and `"` when `pattern` allows them

    @property
    def fast(self) -> str:
        return f"({self.unquoted or self.pattern})" if not self.optional else f"((?:{self.unquoted or self.pattern})?)"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Invalid("is not a day of the calendar") from None


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid("is not a real moment") from None


def _iban(text: str) -> str:
    # شبا: ISO 7064 mod 97-10 over the digits after the check digits, then I = 18, R = 27, then the check digits.
    if int(f"{text[4:]}1827{text[2:4]}") % 97 != 1:
        raise _Invalid("has wrong check digits")
    return text


def _amount(text: str) -> int:
    if int(text) == 0:
        raise _Invalid("must not be zero")
    return int(text)


def _digits(low: int, high: int | None = None) -> _Field:
    high = high or low
    return _Field(
        f"[0-9]{{{low},{high}}}", f"must be {low} digits" if low == high else f"must be {low} to {high} digits"
    )


_PSP = _Field(r'[^,"]+', "must name a PSP")
_DATE = _Field("[0-9]{4}-[0-9]{2}-[0-9]{2}", "must be a date written YYYY-MM-DD", _date)
_TIME = _Field(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})",
    "must be an RFC 3339 time with an offset, e.g. 2025-03-04T08:15:00Z",
    _time,
)
_AMOUNT = _Field("[0-9]{1,18}", "must be a positive whole number of rials", _amount)
# A settlement line is negative when a refund takes its row back.
_SETTLED_AMOUNT = _Field("-?[0-9]{1,18}", "must be a whole number of rials (negative for a refund)", _amount)
_REFERENCE = _Field(
    "[ -~]{0,255}",
    "must be at most 255 printable ASCII characters",
    optional=True,
    unquoted=r"[\x20\x21\x23-\x2b\x2d-\x7e]{0,255}",
)
_FIELDS: dict[FileKind, tuple[_Field, ...]] = {
    FileKind.SETTLEMENT: (
        _PSP,
        _DATE,
        _Field("IR[0-9]{24}", "must be an Iranian IBAN (IR and 24 digits)", _iban),
        _SETTLED_AMOUNT,
        _digits(1, 30),
        _digits(12),
        _digits(6),
        _digits(8),
        _TIME,
        _REFERENCE,
    ),
    FileKind.TERMINAL_FEED: (
        _PSP,
        _DATE,
        _digits(8),
        _digits(1, 15),
        _digits(6),
        _Field("[0-9]{12}", "must be 12 digits", optional=True),
        _AMOUNT,
        _TIME,
        _Field("[0-9]{2}", "must be 2 digits", optional=True),
        _Field("|".join(FEED_STATUSES), f"must be one of {', '.join(FEED_STATUSES)}"),
        _Field(r"[0-9]{6}\*{2,9}[0-9]{4}", "must be masked: the first 6 and last 4 digits, the rest *", optional=True),
        _REFERENCE,
    ),
}
_PATTERNS = {kind: tuple(re.compile(field.pattern) for field in fields) for kind, fields in _FIELDS.items()}
_LINES = {kind: re.compile(",".join(field.fast for field in fields) + "\r?") for kind, fields in _FIELDS.items()}
# The fields a fitted line still needs turned into values (typed, or None when empty); the rest are the text itself.
_CONVERSIONS = {
    kind: tuple(
        (index, field.convert) for index, field in enumerate(fields) if field.convert is not str or field.optional
    )
    for kind, fields in _FIELDS.items()
}
_STATUS = COLUMNS[FileKind.TERMINAL_FEED].index("status")
_RRN = COLUMNS[FileKind.TERMINAL_FEED].index("rrn")


def _checked(kind: FileKind, values: tuple, psp_id: str) -> tuple:
    """The rules across fields: every line names the file's PSP; money taken carries its RRN."""
    if values[0] != psp_id:
        raise _Invalid(f"psp_id {values[0]!r} is not {psp_id!r}, the PSP this file is imported for")
    if kind is FileKind.TERMINAL_FEED and values[_STATUS] in MONEY_TAKEN and values[_RRN] is None:
        raise _Invalid("an approved, verified or settled transaction must carry its rrn")
    return values


def _field_by_field(kind: FileKind, text: str, psp_id: str) -> tuple:
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error as error:
        raise _Invalid(f"not CSV: {error}") from None
    specs = _FIELDS[kind]
    if len(fields) != len(specs):
        raise _Invalid(f"{len(specs)} fields expected, {len(fields)} found")
    values: list[object] = []
    for name, spec, pattern, value in zip(COLUMNS[kind], specs, _PATTERNS[kind], fields, strict=True):
        if value == "":
            if not spec.optional:
                raise _Invalid(f"{name} is missing")
            values.append(None)
        elif not pattern.fullmatch(value):
            raise _Invalid(f"{name} {spec.rule}")
        else:
            try:
                values.append(spec.convert(value))
            except _Invalid as problem:
                raise _Invalid(f"{name} {problem}") from None
    return _checked(kind, tuple(values), psp_id)


def _record(kind: FileKind, text: str, psp_id: str) -> tuple:
    fitted = _LINES[kind].fullmatch(text)
    if fitted is not None:
        values = list(fitted.groups())
        try:
            for index, convert in _CONVERSIONS[kind]:
                values[index] = convert(values[index]) if values[index] else None
            return _checked(kind, tuple(values), psp_id)
        except _Invalid:
            pass  # read it again field by field, to say which field is wrong
    return _field_by_field(kind, text, psp_id)


def _lines(block: bytes, first_line: int) -> list[str]:
    try:
        return block.decode("utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise FileRejected(first_line + block.count(b"\n", 0, error.start), "the file is not valid UTF-8") from None


async def _blocks(body: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, list[str]]]:
    """The whole lines received so far, decoded, with the number of the first of them."""
    pending = b""
    line = 1
    async for chunk in body:
        pending += chunk
        end = pending.rfind(b"\n")
        if end >= 0:
            block, pending = pending[:end], pending[end + 1 :]
            lines = _lines(block, line)
            yield line, lines
            line += len(lines)
    if pending:
        yield line, _lines(pending, line)


async def file_records(body: AsyncIterator[bytes], kind: FileKind, psp_id: str) -> AsyncIterator[tuple]:
    """(line, *typed fields) for each data line of the file whose bytes `body` yields, header line included."""
    async for first, lines in _blocks(body):
        for line, text in enumerate(lines, first):
            if line == 1 or not text.strip("\r"):
                continue
            try:
                record = _record(kind, text, psp_id)
            except _Invalid as problem:
                raise FileRejected(line, str(problem)) from None
            yield (line, *record)
