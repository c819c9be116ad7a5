"""The printed receipt as PDF: A5 pages, or an 80 mm roll slip as tall as its content.

reportlab draws glyphs in the order given and does no Arabic-script shaping, so every line with
Persian letters is shaped (arabic-reshaper) and put in visual order (python-bidi) just before it is
drawn; wrapping happens before that, on the logical text, so each printed line reads on its own.
python-bidi's `bidi.algorithm` implementation is used rather than its newer top-level
`get_display`, because only the former mirrors brackets in right-to-left runs (rule L4), without
which "(۳ عدد)" prints as ")۳ عدد(".

A paragraph with Persian letters is laid out right to left on every one of its lines, a continuation
line of only digits or Latin letters included, so that a wrapped value reads on in the same order.

Labels sit in a column on the right, their values right-aligned next to them. An A5 receipt is always
one page: when its content does not fit at 10 pt it is set smaller, down to 6 pt, and if even that is
too long, the longest labels and values are shortened to a few lines ending in "…". Every text passes
through `receipts.printable` with the font's own coverage first, so nothing reaches the page that the
font cannot draw. The output is deterministic (reportlab's invariant mode): the same receipt always
gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import groupby
from typing import Any, Literal, Protocol

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from receipts.printable import DEFAULT_FONT_PATH, REPLACEMENT, font_can_draw
from receipts.printed import (
    QR_CAPTION,
    SUBTITLE,
    PrintedSection,
    Reprint,
    has_rtl_letters,
    printed_sections,
    title_of,
)
from receipts.qr import qr_modules
from receipts.wrapping import shorten, wrap

PaperSize = Literal["a5", "80mm"]
_LINE_SPACING = 1.45
# How an A5 page makes room, tried in turn until the content fits: (font size, most lines per label or value).
_A5_FITS: tuple[tuple[float, int | None], ...] = (
    (10, None),
    (9, None),
    (8, None),
    (7, None),
    (6, None),
    (6, 3),
    (6, 2),
    (6, 1),
)


@dataclass(frozen=True)
class _Paper:
    width: float
    height: float | None  # None: the page is as tall as its content
    margin: float
    font_size: float
    title_size: float
    label_width: float
    qr_size: float
    qr_in_header: bool  # beside the title (A5) or after everything else (roll)

    @property
    def right(self) -> float:
        return self.width - self.margin

    @property
    def value_right(self) -> float:
        return self.right - self.label_width

    @property
    def value_width(self) -> float:
        return self.value_right - self.margin


_PAPERS: dict[str, _Paper] = {
    "a5": _Paper(
        A5[0],
        A5[1],
        margin=12 * mm,
        font_size=10,
        title_size=14,
        label_width=48 * mm,
        qr_size=36 * mm,
        qr_in_header=True,
    ),
    "80mm": _Paper(
        80 * mm,
        None,
        margin=4 * mm,
        font_size=8,
        title_size=11,
        label_width=32 * mm,
        qr_size=42 * mm,
        qr_in_header=False,
    ),
}


@cache
def _font_name(font_path: str) -> str:
    """Register the TrueType font once per process; its reportlab name."""
    name = "receipt-" + hashlib.sha256(font_path.encode()).hexdigest()[:12]
    pdfmetrics.registerFont(TTFont(name, font_path))
    return name


@lru_cache(maxsize=8192)
def _shaped(text: str) -> str:
    """Shaped text, remembered: arabic-reshaper reads its settings through configparser on every call, and a
    line is shaped to measure it while wrapping and again to draw it, its label on every receipt."""
    return arabic_reshaper.reshape(text)


def _visual(text: str, right_to_left: bool | None = None) -> str:
    """One line in drawing order. `right_to_left` is the direction of the paragraph the line belongs to (by
    default, whether the line itself has Persian letters)."""
    if right_to_left is None:
        right_to_left = has_rtl_letters(text)
    return get_display(_shaped(text), base_dir="R") if right_to_left else text


def _width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(_shaped(text), font, size)


@dataclass(frozen=True)
class _Paragraph:
    """A label or a value, wrapped in logical order; every line is drawn in the paragraph's direction."""

    lines: tuple[str, ...]
    right_to_left: bool

    @classmethod
    def of(cls, text: str, font: str, size: float, width: float, most_lines: int | None) -> _Paragraph:
        def measure(line: str) -> float:
            return _width(line, font, size)

        lines = wrap(text, measure, width)
        if most_lines is not None:
            lines = shorten(lines, most_lines, measure, width)
        return cls(tuple(lines), has_rtl_letters(text))

    def visual_lines(self) -> Iterator[str]:
        return (_visual(line, self.right_to_left) for line in self.lines)


class _Block(Protocol):
    def height(self, paper: _Paper) -> float: ...

    def draw(self, canvas: Canvas, paper: _Paper, font: str, top: float) -> None: ...


@dataclass(frozen=True)
class _Heading:
    text: str

    def height(self, paper: _Paper) -> float:
        return paper.font_size * _LINE_SPACING * 1.5

    def draw(self, canvas: Canvas, paper: _Paper, font: str, top: float) -> None:
        rule_y = top - paper.font_size * 0.35
        canvas.setLineWidth(0.4)
        canvas.line(paper.margin, rule_y, paper.right, rule_y)
        canvas.setFont(font, paper.font_size)
        canvas.drawRightString(paper.right, top - paper.font_size * 1.5, _visual(self.text))


@dataclass(frozen=True)
class _Row:
    label: _Paragraph
    value: _Paragraph

    def height(self, paper: _Paper) -> float:
        return max(len(self.label.lines), len(self.value.lines)) * paper.font_size * _LINE_SPACING

    def draw(self, canvas: Canvas, paper: _Paper, font: str, top: float) -> None:
        canvas.setFont(font, paper.font_size)
        leading = paper.font_size * _LINE_SPACING
        for index, line in enumerate(self.label.visual_lines()):
            canvas.drawRightString(paper.right, top - paper.font_size - index * leading, line)
        for index, line in enumerate(self.value.visual_lines()):
            canvas.drawRightString(paper.value_right, top - paper.font_size - index * leading, line)


@dataclass(frozen=True)
class _QrCode:
    payload: str

    def height(self, paper: _Paper) -> float:
        return paper.qr_size + paper.font_size * _LINE_SPACING * 2

    def draw(self, canvas: Canvas, paper: _Paper, font: str, top: float) -> None:
        self.draw_at(canvas, paper, font, top, (paper.width - paper.qr_size) / 2)

    def draw_at(self, canvas: Canvas, paper: _Paper, font: str, top: float, left: float) -> None:
        modules = qr_modules(self.payload)
        runs = []  # each run of dark modules in a row, as a rectangle in module units from the bottom left
        for row_index, row in enumerate(modules):
            column = 0
            for dark, group in groupby(row):
                length = len(list(group))
                if dark:
                    runs.append(f"{column} {len(modules) - 1 - row_index} {length} 1 re f")
                column += length
        # The same filled rectangles canvas.rect would draw, written directly in module units: hundreds of
        # canvas.rect calls, each through reportlab's pure-Python number formatting, take a quarter of a render.
        canvas.saveState()
        module = paper.qr_size / len(modules)
        canvas.transform(module, 0, 0, module, left, top - paper.qr_size)
        canvas.addLiteral("\n".join(runs))
        canvas.restoreState()
        canvas.setFont(font, paper.font_size)
        caption = _visual(QR_CAPTION)
        # Under the code, but never out into the margin when the caption is the wider of the two.
        centre = max(left + paper.qr_size / 2, paper.margin + _width(QR_CAPTION, font, paper.font_size) / 2)
        canvas.drawCentredString(centre, top - paper.qr_size - paper.font_size, caption)


@dataclass(frozen=True)
class _Header:
    """Title and subtitle, centred in the width the QR code leaves when it sits beside them."""

    qr: _QrCode | None
    title: str

    def _title_height(self, paper: _Paper) -> float:
        return (paper.title_size + paper.font_size) * _LINE_SPACING

    def height(self, paper: _Paper) -> float:
        title_height = self._title_height(paper)
        return title_height if self.qr is None else max(title_height, self.qr.height(paper))

    def draw(self, canvas: Canvas, paper: _Paper, font: str, top: float) -> None:
        left = paper.margin
        if self.qr is not None:
            self.qr.draw_at(canvas, paper, font, top, left)
            left += paper.qr_size
        centre = (left + paper.right) / 2
        title_top = top - (self.height(paper) - self._title_height(paper)) / 2
        canvas.setFont(font, paper.title_size)
        canvas.drawCentredString(centre, title_top - paper.title_size, _visual(self.title))
        canvas.setFont(font, paper.font_size)
        canvas.drawCentredString(
            centre, title_top - paper.title_size * _LINE_SPACING - paper.font_size, _visual(SUBTITLE)
        )


def _blocks(
    title: str,
    sections: list[PrintedSection],
    qr_payload: str,
    paper: _Paper,
    font: str,
    most_lines: int | None = None,
) -> Iterator[_Block]:
    qr = _QrCode(qr_payload)
    yield _Header(qr if paper.qr_in_header else None, title)
    label_room = paper.label_width - paper.font_size
    for section in sections:
        yield _Heading(section.heading or "")
        for row in section.rows:
            yield _Row(
                _Paragraph.of(row.label, font, paper.font_size, label_room, most_lines),
                _Paragraph.of(row.value, font, paper.font_size, paper.value_width, most_lines),
            )
    if not paper.qr_in_header:
        yield _Heading("")
        yield qr


def _laid_out(
    title: str, sections: list[PrintedSection], qr_payload: str, paper: _Paper, font: str
) -> tuple[_Paper, list[_Block]]:
    """The paper (at the font size chosen) and its blocks: for A5, the first of `_A5_FITS` whose content fits on
    the page (the last one holds everything the API accepts); a roll grows with its content."""
    if paper.height is None:
        return paper, list(_blocks(title, sections, qr_payload, paper, font))
    room = paper.height - 2 * paper.margin
    for font_size, most_lines in _A5_FITS:
        sized = dataclasses.replace(paper, font_size=font_size)
        blocks = list(_blocks(title, sections, qr_payload, sized, font, most_lines))
        if sum(block.height(sized) for block in blocks) <= room:
            break
    return sized, blocks


def render_pdf(
    signed_receipt: Mapping[str, Any],
    size: PaperSize,
    qr_payload: str,
    font_path: str = DEFAULT_FONT_PATH,
    reprint: Reprint | None = None,
) -> bytes:
    """The receipt as a PDF document: `size` "a5" or "80mm"; `font_path` a TrueType font with Persian glyphs;
    a `reprint` is marked as a copy on the paper."""
    if size not in _PAPERS:
        raise ValueError(f"paper size must be one of {', '.join(_PAPERS)}, not {size!r}")
    font = _font_name(str(font_path))
    sections = printed_sections(signed_receipt, font_can_draw(str(font_path)), REPLACEMENT, reprint)
    title = title_of(signed_receipt["receipt"])
    paper, blocks = _laid_out(title, sections, qr_payload, _PAPERS[size], font)
    page_height = paper.height or sum(block.height(paper) for block in blocks) + 2 * paper.margin
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(paper.width, page_height), invariant=True, pageCompression=True)
    canvas.setTitle(f"Receipt {signed_receipt['receipt']['tracking_code']}")
    top = page_height - paper.margin
    for block in blocks:
        block.draw(canvas, paper, font, top)
        top -= block.height(paper)
    canvas.save()
    return buffer.getvalue()


# What other printed documents of the gateway (the office's tariff poster) draw Persian with.
registered_font = _font_name
visual_text = _visual


def wrapped_lines(text: str, font: str, size: float, width: float) -> list[str]:
    """`text` wrapped in logical order to lines no wider than `width` in `font` at `size`."""
    return wrap(text, lambda line: _width(line, font, size), width)
