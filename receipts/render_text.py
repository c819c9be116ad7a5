"""The 48-column thermal form for POS printers.

Text stays in logical order and unshaped: printers with Persian firmware shape letters and order
right-to-left runs themselves, and would garble text shaped or reordered in advance. Every printed
line is exactly 48 columns wide, counted as the printer counts them (`wcwidth`: a ZWNJ or a direction
mark takes none, a wide character two), padded on the left so it sits at the right edge when laid out
left to right. A value with no Persian letters (card number, reference numbers) is wrapped in
left-to-right marks, which keep `603799******1234` in reading order inside a right-to-left line.
The last lines, after the QR caption, are not printed as text: they are the QR payload in
48-character pieces (the last one shorter), which the client joins and prints with its printer's QR
command.

Two character sets: UTF-8, where what the receipt font cannot draw is replaced by "�" as in the PDF;
and Windows-1256, the Arabic-script code page of Persian thermal printers, where Persian yeh and
Persian digits take their Windows-1256 forms (ي and ASCII digits, as Windows' own best-fit mapping
does) and anything else outside the code page is replaced by "?".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wcwidth import wcswidth

from gateway.core.text import PERSIAN_DIGITS, PERSIAN_THOUSANDS_SEPARATOR
from receipts.printable import DEFAULT_FONT_PATH, REPLACEMENT, CanDraw, font_can_draw
from receipts.printed import QR_CAPTION, SUBTITLE, PrintedRow, Reprint, has_rtl_letters, printed_sections, title_of
from receipts.wrapping import wrap

WIDTH = 48
LEFT_TO_RIGHT_MARK = "\u200e"
_RULE = "-" * WIDTH


@dataclass(frozen=True)
class _CodePage:
    name: str
    best_fit: dict[int, str]
    replacement: str

    def can_draw(self, char: str) -> bool:
        try:
            char.translate(self.best_fit).encode(self.name)
        except UnicodeEncodeError:
            return False
        return True


WINDOWS_1256 = _CodePage(
    "windows-1256",
    str.maketrans(
        {"\u06cc": "\u064a", PERSIAN_THOUSANDS_SEPARATOR: ",", **dict(zip(PERSIAN_DIGITS, "0123456789", strict=True))}
    ),
    "?",
)
CHARSETS = ("utf-8", WINDOWS_1256.name)


def columns(text: str) -> int:
    """The columns a printer gives `text` (it holds only printable characters by now)."""
    return max(wcswidth(text), 0)


def _pad_left(text: str) -> str:
    return " " * (WIDTH - columns(text)) + text


def _centred(text: str) -> str:
    room = WIDTH - columns(text)
    return " " * (room - room // 2) + text + " " * (room // 2)


def _in_reading_order(text: str, right_to_left: bool) -> str:
    """A piece of a value; one of a value without Persian letters is kept left to right with marks. A piece of a
    right-to-left value stays as it is even when it holds no Persian letter itself (a continuation line of
    digits and brackets), so the printer reads it on in the value's direction."""
    return text if right_to_left else f"{LEFT_TO_RIGHT_MARK}{text}{LEFT_TO_RIGHT_MARK}"


def _row_lines(row: PrintedRow) -> Iterator[str]:
    right_to_left = has_rtl_letters(row.value)
    one_line = f"{row.label}: {_in_reading_order(row.value, right_to_left)}"
    if columns(one_line) <= WIDTH:
        yield _pad_left(one_line)
        return
    for piece in wrap(f"{row.label}:", columns, WIDTH):
        yield _pad_left(piece)
    for piece in wrap(row.value, columns, WIDTH - 2):
        yield _pad_left(_in_reading_order(piece, right_to_left))


def render_thermal(
    signed_receipt: Mapping[str, Any],
    qr_payload: str,
    reprint: Reprint | None = None,
    *,
    charset: str = "utf-8",
    font_path: str = DEFAULT_FONT_PATH,
) -> str:
    """The receipt as 48-column lines, each ending in a newline, holding only characters of `charset` (one of
    `CHARSETS`): `render_thermal(...).encode(charset)` never fails; a `reprint` is marked as a copy."""
    if charset not in CHARSETS:
        raise ValueError(f"charset must be one of {', '.join(CHARSETS)}, not {charset!r}")
    code_page = WINDOWS_1256 if charset == WINDOWS_1256.name else None
    can_draw: CanDraw = code_page.can_draw if code_page else font_can_draw(font_path)
    sections = printed_sections(signed_receipt, can_draw, code_page.replacement if code_page else REPLACEMENT, reprint)
    lines = [_centred(title_of(signed_receipt["receipt"])), _centred(SUBTITLE), _RULE]
    for section in sections:
        if section.heading:
            lines.append(_pad_left(section.heading))
        for row in section.rows:
            lines.extend(_row_lines(row))
        lines.append(_RULE)
    lines.append(_pad_left(QR_CAPTION))
    text = "\n".join(lines) + "\n"
    if code_page:
        text = text.translate(code_page.best_fit)  # one character for one, of the same width
    return text + "".join(qr_payload[start : start + WIDTH] + "\n" for start in range(0, len(qr_payload), WIDTH))
