"""Checking a PSP file's lines against the format as they stream by, and passing them on as CSV for PostgreSQL's COPY.

A line that breaks a rule stops the reading with FileRejected naming the line (the header is line 1). Blank
lines carry nothing and are skipped; a field may not hold a line break. Every line passed on starts with its line
number, so a kept row can be traced back to its place in the file.

Each field is described once (`_Field`): what a value looks like, the rule for people, and what else it must be (a
day of the calendar, IBAN check digits, ...), for one value and for a whole column. Lines are checked a block (about
a megabyte) at a time: the block is read into columns (pyarrow's CSV reader) and every rule is checked on whole
columns at once. Only a block that does not pass, or that holds something unusual (CSV quotes, blank lines, a stray
carriage return), is read again line by line: that names the first line that breaks a rule and what is wrong, or
passes the block on written as plain CSV.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from psp_adapters.daily_files import COLUMNS, FEED_STATUSES, MONEY_TAKEN, FileKind, FileRejected

_BLOCK_BYTES = 1 << 20  # lines are checked this many bytes at a time (fewer at the end of the file)


class _Invalid(ValueError):
    pass


def _any_text(_column: pa.ChunkedArray) -> bool:
    return True


def _true(condition: pa.Scalar) -> bool:
    return bool(condition.as_py())


# (Operands given as arrow scalars: pyarrow looks for pandas on every call given a plain Python value.)
_ZERO = pa.scalar(0, pa.int64())
_ONE = pa.scalar(1, pa.int64())
_97 = pa.scalar(97, pa.int64())
_IBAN_LETTERS = pa.scalar(1827, pa.int64())
_POWERS_OF_TEN = {digits: pa.scalar(10**digits, pa.int64()) for digits in (2, 4, 9)}


@dataclass(frozen=True)
class _Field:
    pattern: str  # what a valid value looks like
    rule: str  # the same, for people
    check: Callable[[str], object] = str  # raises _Invalid when the value names nothing real
    optional: bool = False
    unquoted: str | None = None  # the pattern without `,` and `"` when `pattern` allows them
    digits: tuple[int, int] | None = None  # (fewest, most) when the pattern is nothing but that many digits

    def column_fits(self, column: pa.ChunkedArray) -> bool:
        """Whether every value of the column looks like `pattern` (counting digits is quicker than a regex)."""
        if self.digits is None or self.optional:
            return _true(pc.all(pc.match_substring_regex(column, self.whole)))
        fewest, most = self.digits
        lengths = pc.min_max(pc.binary_length(column)).as_py()
        return fewest <= lengths["min"] and lengths["max"] <= most and _true(pc.all(pc.ascii_is_decimal(column)))

    def all_pass(self, column: pa.ChunkedArray) -> bool:
        """`check` on every value of a column that looks like `pattern`."""
        return _COLUMN_CHECKS[self.check](column)

    @property
    def fast(self) -> str:
        return f"({self.unquoted or self.pattern})" if not self.optional else f"((?:{self.unquoted or self.pattern})?)"

    @property
    def whole(self) -> str:
        return f"^(?:{self.pattern})$" if not self.optional else f"^(?:{self.pattern})?$"


def _date(text: str) -> None:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise _Invalid("is not a day of the calendar") from None


def _time(text: str) -> None:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid("is not a real moment") from None


def _iban(text: str) -> None:
    # شبا: ISO 7064 mod 97-10 over the digits after the check digits, then I = 18, R = 27, then the check digits.
    if int(f"{text[4:]}1827{text[2:4]}") % 97 != 1:
        raise _Invalid("has wrong check digits")


def _amount(text: str) -> None:
    if int(text) == 0:
        raise _Invalid("must not be zero")


def _in_calendar(values: pa.ChunkedArray, as_type: pa.DataType) -> bool:
    """Whether every value is a real day (or moment) from year 1 on, as Python's and PostgreSQL's calendars have it."""
    try:
        typed = pc.cast(values, as_type)
    except pa.ArrowInvalid:
        return False
    return _true(pc.all(pc.greater_equal(pc.year(typed), _ONE)))


def _all_dates(column: pa.ChunkedArray) -> bool:
    return _in_calendar(column, pa.date32())


def _all_times(column: pa.ChunkedArray) -> bool:
    return _in_calendar(column, pa.timestamp("us", tz="UTC"))


def _mod_97(value: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.subtract(value, pc.multiply(pc.divide(value, _97), _97))


def _all_ibans(column: pa.ChunkedArray) -> bool:
    # The mod 97 of `_iban`, a few digits at a time so that every step fits in 64 bits.
    remainder = pc.cast(pc.utf8_slice_codeunits(column, 4, 13), pa.int64())
    for start, stop in ((13, 22), (22, 26)):
        digits = pc.cast(pc.utf8_slice_codeunits(column, start, stop), pa.int64())
        remainder = pc.add(pc.multiply(_mod_97(remainder), _POWERS_OF_TEN[stop - start]), digits)
    remainder = pc.add(pc.multiply(_mod_97(remainder), _POWERS_OF_TEN[4]), _IBAN_LETTERS)
    check_digits = pc.cast(pc.utf8_slice_codeunits(column, 2, 4), pa.int64())
    remainder = pc.add(pc.multiply(_mod_97(remainder), _POWERS_OF_TEN[2]), check_digits)
    return _true(pc.all(pc.equal(_mod_97(remainder), _ONE)))


def _all_amounts(column: pa.ChunkedArray) -> bool:
    return not _true(pc.any(pc.equal(pc.cast(column, pa.int64()), _ZERO)))


# Each check of one value, and the same check on a whole column.
_COLUMN_CHECKS: dict[Callable[[str], object], Callable[[pa.ChunkedArray], bool]] = {
    str: _any_text,
    _date: _all_dates,
    _time: _all_times,
    _iban: _all_ibans,
    _amount: _all_amounts,
}


def _digits(low: int, high: int | None = None) -> _Field:
    high = high or low
    return _Field(
        f"[0-9]{{{low},{high}}}",
        f"must be {low} digits" if low == high else f"must be {low} to {high} digits",
        digits=(low, high),
    )


_PSP = _Field(r'[^,"]+', "must name a PSP")
_DATE = _Field("[0-9]{4}-[0-9]{2}-[0-9]{2}", "must be a date written YYYY-MM-DD", _date)
# Hours, minutes, seconds and offsets in their ranges (offsets up to ±15:59, as far as PostgreSQL reads them).
_TIME = _Field(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])",
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
_STATUS = COLUMNS[FileKind.TERMINAL_FEED].index("status")
_RRN = COLUMNS[FileKind.TERMINAL_FEED].index("rrn")
_MONEY_TAKEN = pa.array(MONEY_TAKEN)
_NOTHING = pa.scalar("")


# --- one line at a time: names what is wrong ----------------------------------------------------------------------


def _checked(kind: FileKind, values: list[str], psp_id: str) -> list[str]:
    """The rules across fields: every line names the file's PSP; money taken carries its RRN."""
    if values[0] != psp_id:
        raise _Invalid(f"psp_id {values[0]!r} is not {psp_id!r}, the PSP this file is imported for")
    if kind is FileKind.TERMINAL_FEED and values[_STATUS] in MONEY_TAKEN and not values[_RRN]:
        raise _Invalid("an approved, verified or settled transaction must carry its rrn")
    return values


def _field_by_field(kind: FileKind, text: str, psp_id: str) -> list[str]:
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error as error:
        raise _Invalid(f"not CSV: {error}") from None
    specs = _FIELDS[kind]
    if len(fields) != len(specs):
        raise _Invalid(f"{len(specs)} fields expected, {len(fields)} found")
    for name, spec, pattern, value in zip(COLUMNS[kind], specs, _PATTERNS[kind], fields, strict=True):
        if value == "":
            if not spec.optional:
                raise _Invalid(f"{name} is missing")
        elif not pattern.fullmatch(value):
            raise _Invalid(f"{name} {spec.rule}")
        else:
            try:
                spec.check(value)
            except _Invalid as problem:
                raise _Invalid(f"{name} {problem}") from None
    return _checked(kind, fields, psp_id)


def _fields(kind: FileKind, text: str, psp_id: str) -> list[str]:
    """The line's fields as text, checked."""
    fitted = _LINES[kind].fullmatch(text)
    if fitted is not None:
        values = list(fitted.groups())
        try:
            for spec, value in zip(_FIELDS[kind], values, strict=True):
                if value:
                    spec.check(value)
            return _checked(kind, values, psp_id)
        except _Invalid:
            pass  # read it again field by field, to say which field is wrong
    return _field_by_field(kind, text, psp_id)


# --- a block at a time: whole columns -----------------------------------------------------------------------------

_READ = {
    kind: (
        pa_csv.ReadOptions(column_names=list(COLUMNS[kind]), use_threads=False),
        pa_csv.ConvertOptions(column_types=dict.fromkeys(COLUMNS[kind], pa.string())),
    )
    for kind in FileKind
}


def _columns_pass(kind: FileKind, block: bytes, psp_id: str) -> bool:
    """Whether every line of the block (plain CSV lines, each ending in a line feed) keeps every rule."""
    read_options, convert_options = _READ[kind]
    try:
        table = pa_csv.read_csv(io.BytesIO(block), read_options=read_options, convert_options=convert_options)
    except pa.ArrowInvalid:
        return False
    for spec, column in zip(_FIELDS[kind], table.columns, strict=True):
        if not spec.column_fits(column) or not spec.all_pass(column):
            return False
    if not _true(pc.all(pc.equal(table.column(0), pa.scalar(psp_id)))):
        return False
    if kind is FileKind.TERMINAL_FEED:
        money_taken = pc.is_in(table.column(_STATUS), _MONEY_TAKEN)
        return not _true(pc.any(pc.and_(money_taken, pc.equal(table.column(_RRN), _NOTHING))))
    return True


class FileReader:
    """Checks the data lines of one PSP file and passes them on as CSV lines (`\\n` line ends) of the file's id, the
    line number and the line's fields, ready for COPY."""

    def __init__(self, kind: FileKind, psp_id: str, file_id: int) -> None:
        self.kind = kind
        self.psp_id = psp_id
        self.file_id = file_id

    async def csv_blocks(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The checked lines of the file whose bytes (header line included) `body` yields."""
        async for first, block in _blocks(body):
            yield self._checked_block(first, block)

    def _checked_block(self, first: int, block: bytes) -> bytes:
        plain = block.replace(b"\r\n", b"\n") if b"\r" in block else block
        unusual = b"\r" in plain or b'"' in plain or plain.startswith(b"\n") or b"\n\n" in plain
        if unusual or not _columns_pass(self.kind, plain, self.psp_id):
            return self._line_by_line(first, block)
        file_id = self.file_id
        return b"".join(
            [b"%d,%d,%b\n" % (file_id, line, text) for line, text in enumerate(plain.split(b"\n")[:-1], first)]
        )

    def _line_by_line(self, first: int, block: bytes) -> bytes:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as error:
            raise FileRejected(first + block.count(b"\n", 0, error.start), "the file is not valid UTF-8") from None
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for line, line_text in enumerate(text.split("\n")[:-1], first):
            if not line_text.strip("\r"):
                continue
            try:
                writer.writerow([self.file_id, line, *_fields(self.kind, line_text, self.psp_id)])
            except _Invalid as problem:
                raise FileRejected(line, str(problem)) from None
        return out.getvalue().encode()


async def _blocks(body: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """Whole data lines, about a megabyte at a time, each ending in `\\n`, with the number of the first of them."""
    chunks: list[bytes] = []
    size = 0
    line = 1  # of the first line in `chunks`; the header's until it is complete
    async for chunk in body:
        chunks.append(chunk)
        size += len(chunk)
        if line == 1 and b"\n" in chunk:
            pending = b"".join(chunks)
            chunks, line = [pending[pending.index(b"\n") + 1 :]], 2
            size = len(chunks[0])
        if line > 1 and size >= _BLOCK_BYTES:
            pending = b"".join(chunks)
            end = pending.rfind(b"\n") + 1
            if end:
                block = pending[:end]
                yield line, block
                line += block.count(b"\n")
                chunks, size = [pending[end:]], len(pending) - end
    rest = b"".join(chunks)
    if rest and line > 1:
        yield line, rest if rest.endswith(b"\n") else rest + b"\n"
