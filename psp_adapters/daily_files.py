"""The PSP daily file formats: the contract between the PSPs (and their simulator) and the importer.

Both are CSV (RFC 4180), UTF-8, comma-separated, with a header line naming the columns in this order.
A file's kind is told by its header. Field rules (checked by the importer, docs/reconciliation.md):
dates are YYYY-MM-DD, times RFC 3339 with an offset, amounts integer rials, IBANs شبا with valid check digits.
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum


class FileKind(StrEnum):
    SETTLEMENT = "settlement"  # what the PSP paid out, one line per settlement row
    TERMINAL_FEED = "terminal_feed"  # every transaction on every terminal, the gateway's or not


COLUMNS: dict[FileKind, tuple[str, ...]] = {
    FileKind.SETTLEMENT: (
        "psp_id",
        "settlement_date",
        "iban",
        "amount",
        "payment_id",
        "rrn",
        "stan",
        "terminal_id",
        "transaction_time",
        "reference",
    ),
    FileKind.TERMINAL_FEED: (
        "psp_id",
        "business_date",
        "terminal_id",
        "merchant_id",
        "stan",
        "rrn",
        "amount",
        "transaction_time",
        "response_code",
        "status",
        "masked_pan",
        "reference",
    ),
}

# The states a terminal-feed line reports; money was taken from the card in the last three.
FEED_STATUSES = ("pending", "declined", "reversed", "approved", "verified", "settled")
MONEY_TAKEN = ("approved", "verified", "settled")


class FileRejected(ValueError):
    """A file that cannot be imported; `line` is its 1-based line number (the header is line 1)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


def header_line(kind: FileKind) -> str:
    return ",".join(COLUMNS[kind])


def kind_of_header(line: str) -> FileKind:
    """The kind whose header this is; FileRejected (line 1) for any other first line."""
    fields = next(csv.reader(io.StringIO(line.removeprefix("\ufeff").rstrip("\r\n"))), [])
    for kind, columns in COLUMNS.items():
        if tuple(field.strip() for field in fields) == columns:
            return kind
    expected = " or ".join(f"'{header_line(kind)}'" for kind in FileKind)
    raise FileRejected(1, f"the header must be {expected}")
