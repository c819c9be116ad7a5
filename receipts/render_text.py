"""The 48-column thermal form for POS printers.

Text stays in logical order and unshaped: printers with Persian firmware shape letters and order
right-to-left runs themselves, and would garble text shaped or reordered in advance. Lines are
padded on the left to 48 columns so they sit at the right edge when laid out left to right.
A value with no Persian letters (card number, reference numbers) is wrapped in left-to-right marks,
which keep `603799******1234` in reading order inside a right-to-left line. The last lines, after
the QR caption, are the QR payload split into 48-character pieces; the client joins them and
prints them with its printer's QR command.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

from receipts.printed import QR_CAPTION, SUBTITLE, TITLE, PrintedRow, Reprint, has_rtl_letters, printed_sections

WIDTH = 48
LEFT_TO_RIGHT_MARK = "\u200e"
_RULE = "-" * WIDTH


def _in_reading_order(text: str) -> str:
    return text if has_rtl_letters(text) else f"{LEFT_TO_RIGHT_MARK}{text}{LEFT_TO_RIGHT_MARK}"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _row_lines(row: PrintedRow) -> Iterator[str]:
    one_line = f"{row.label}: {_in_reading_order(row.value)}"
    if len(one_line) <= WIDTH:
        yield one_line.rjust(WIDTH)
        return
    yield f"{row.label}:".rjust(WIDTH)
    for piece in _wrap(row.value, WIDTH - 2):
        yield _in_reading_order(piece).rjust(WIDTH)


def render_thermal(signed_receipt: Mapping[str, Any], qr_payload: str, reprint: Reprint | None = None) -> str:
    """The receipt as lines of at most 48 characters, each ending in a newline; a `reprint` is marked as a copy."""
    lines = [TITLE.center(WIDTH).rstrip(), SUBTITLE.center(WIDTH).rstrip(), _RULE]
    for section in printed_sections(signed_receipt, reprint):
        if section.heading:
            lines.append(section.heading.rjust(WIDTH))
        for row in section.rows:
            lines.extend(_row_lines(row))
        lines.append(_RULE)
    lines.append(QR_CAPTION.rjust(WIDTH))
    lines.extend(qr_payload[start : start + WIDTH] for start in range(0, len(qr_payload), WIDTH))
    return "\n".join(lines) + "\n"
