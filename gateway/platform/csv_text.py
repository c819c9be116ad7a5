"""CSV text (RFC 4180, CRLF line ends) for the statement and report downloads."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence


def csv_text(columns: Sequence[str], rows: Iterable[Mapping], *, header: bool = False) -> str:
    """The rows as CSV lines, fields in `columns` order (None as an empty field), after the header if asked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(columns)
    writer.writerows([("" if row[column] is None else row[column]) for column in columns] for row in rows)
    return buffer.getvalue()
