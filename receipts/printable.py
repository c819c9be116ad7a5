"""Text made safe to print: what reaches a printer or a PDF is only what it can draw.

A stored name or address may hold anything its source let through: control characters (an ESC/POS command in a
name would otherwise reach the thermal printer as raw bytes), direction overrides that reorder a printed line,
or characters the receipt font has no glyph for (most emoji). `printable` keeps the letters, digits, marks and
spaces the target can draw and the few format characters that shape Persian text (ZWNJ, ZWJ and the direction
marks); it turns line breaks and other whitespace controls into a space, drops every other format character,
and puts a visible replacement in place of anything else, so a reader sees that something was there.

Both printed forms of one receipt pass the same text through here with the receipt font's coverage, so the PDF and
the thermal text show the same replacement in the same places. A text form for a printer code page uses the code
page's own coverage and replacement (see `receipts.render_text`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import cache

from reportlab.pdfbase.ttfonts import TTFont

DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
REPLACEMENT = "\ufffd"  # � REPLACEMENT CHARACTER

# Format characters that carry meaning in Persian text: ZWNJ (نیم‌فاصله), ZWJ, LRM, RLM and the Arabic letter mark.
KEPT_FORMAT = frozenset("\u200c\u200d\u200e\u200f\u061c")

CanDraw = Callable[[str], bool]


@cache
def font_coverage(font_path: str) -> frozenset[str]:
    """Every character the TrueType font has a glyph for, from its cmap."""
    face = TTFont("coverage", font_path).face
    return frozenset(map(chr, face.charToGlyph))


def font_can_draw(font_path: str) -> CanDraw:
    return font_coverage(str(font_path)).__contains__


def printable(text: str, can_draw: CanDraw, replacement: str = REPLACEMENT) -> str:
    """`text` with only what `can_draw` accepts, the kept format characters and spaces; see the module doc."""
    return "".join(_printable_char(char, can_draw, replacement) for char in text)


def _printable_char(char: str, can_draw: CanDraw, replacement: str) -> str:
    if char == " " or char in KEPT_FORMAT:
        return char
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category in ("Cc", "Cs", "Co", "Cn") or not can_draw(char):
        return replacement
    return char
