"""The office's tariff sheet as an A4 portrait poster to print and hang in view of customers: the office, the
approval(s) and their effective dates, one block per service with its caps, what to do if asked for more, and a QR
code to the sheet's page on the gateway (which always shows the tariffs in force)."""

from __future__ import annotations

import io
from itertools import groupby

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from gateway.core.tariff_sheet import SheetRow, TariffSheet
from gateway.core.text import format_rials, to_persian_digits
from receipts.qr import qr_modules
from receipts.render_pdf import DEFAULT_FONT_PATH, registered_font, visual_text, wrapped_lines

_MARGIN = 15 * mm
_QR_SIZE = 40 * mm
_BODY = 10.5
_SMALL = 8
_TITLE = 20
_LEADING = 1.5

TITLE = "تعرفه‌های مصوب خدمات این دفتر"
ADVICE = (
    "اخذ هرگونه وجه مازاد بر تعرفهٔ مصوب ممنوع است و هزینه فقط با کارت بانکی پرداخت می‌شود. "
    "اگر بیش از این مبالغ یا وجه نقد از شما خواستند، از صفحهٔ رسید خود (پیوند پیامک یا رمزینهٔ رسید) شکایت کنید. "
    "تعرفه‌های در اجرا همیشه در نشانی رمزینهٔ کنار همین متن است."
)


def sheet_url(public_base_url: str, office_id: str) -> str:
    """The sheet's page on the gateway, which the poster's QR code opens."""
    return f"{public_base_url.rstrip('/')}/offices/{office_id}/tariffs"


def _rials(amount: int) -> str:
    return format_rials(amount)


def office_lines(sheet: TariffSheet) -> list[str]:
    """The office and approval lines above the table."""
    office = sheet.office
    fa = to_persian_digits
    lines = [
        f"{office.name} — {fa(office.address)}",
        f"دارنده پروانه: {office.licence_holder}، شماره پروانه: {fa(office.licence_number)}، "
        f"معتبر تا {fa(sheet.licence_valid_to)}",
    ]
    for approval in sheet.approvals:
        period = f"در اجرا از {fa(approval.effective_from)}"
        if approval.effective_to:
            period += f" تا {fa(approval.effective_to)}"
        sample = " (نمونه)" if approval.sample else ""
        lines.append(f"مصوبه {approval.reference}{sample}، {approval.session}، {period}")
    return lines


def _extras_line(row: SheetRow) -> str:
    if row.approval_reference is None:
        return "تعرفهٔ مصوبی در این تاریخ ندارد: هیچ وجهی نباید گرفته شود"
    if not row.extras:
        return ""
    listed = "، ".join(f"{extra.name} {_rials(extra.unit_cap)}" for extra in row.extras)
    return f"موارد اضافه، سقف هر واحد: {listed}"


def _draw_qr(canvas: Canvas, text: str, left: float, bottom: float) -> None:
    modules = qr_modules(text)
    module = _QR_SIZE / len(modules)
    for row_index, row in enumerate(modules):
        column = 0
        for dark, group in groupby(row):
            length = len(list(group))
            if dark:
                y = bottom + (len(modules) - 1 - row_index) * module
                canvas.rect(left + column * module, y, length * module, module, stroke=0, fill=1)
            column += length


class _Poster:
    """Draws lines from the top of an A4 page down, starting a new page when one is full."""

    def __init__(self, canvas: Canvas, font: str) -> None:
        self.canvas, self.font = canvas, font
        self.width, self.height = A4
        self.right = self.width - _MARGIN
        self.top = self.height - _MARGIN

    def room_for(self, height: float) -> None:
        if self.top - height < _MARGIN:
            self.canvas.showPage()
            self.top = self.height - _MARGIN

    def text(self, line: str, size: float, *, centred: bool = False) -> None:
        self.room_for(size * _LEADING)
        self.canvas.setFont(self.font, size)
        y = self.top - size
        if centred:
            self.canvas.drawCentredString(self.width / 2, y, visual_text(line))
        else:
            self.canvas.drawRightString(self.right, y, visual_text(line))
        self.top -= size * _LEADING

    def paragraph(self, text: str, size: float, width: float | None = None) -> None:
        for line in wrapped_lines(text, self.font, size, width or self.right - _MARGIN):
            self.text(line, size)

    def rule(self) -> None:
        self.canvas.setLineWidth(0.5)
        self.canvas.line(_MARGIN, self.top - 2, self.right, self.top - 2)
        self.top -= 4

    def row(self, cells: list[str], size: float) -> None:
        """One table row: the first cell at the right edge, the figures right-aligned at their column edges."""
        self.room_for(size * _LEADING)
        self.canvas.setFont(self.font, size)
        y = self.top - size
        for edge, cell in zip(_column_edges(self.right), cells, strict=True):
            self.canvas.drawRightString(edge, y, visual_text(cell))
        self.top -= size * _LEADING


def _column_edges(right: float) -> list[float]:
    return [right, right - 80 * mm, right - 113 * mm, right - 146 * mm]


HEADINGS = ["خدمت", "سهم دستگاه اجرایی", "سقف کارمزد دفتر", "سقف کل (ریال)"]


def render_poster(sheet: TariffSheet, page_url: str, font_path: str = DEFAULT_FONT_PATH) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True, pageCompression=True)
    canvas.setTitle(f"Tariffs of office {sheet.office.id}")
    poster = _Poster(canvas, registered_font(str(font_path)))
    poster.text(TITLE, _TITLE, centred=True)
    poster.text(f"تعرفه‌های در اجرا در {to_persian_digits(sheet.day)} — مبالغ به ریال", _BODY, centred=True)
    poster.top -= _BODY
    for line in office_lines(sheet):
        poster.paragraph(line, _BODY)
    poster.top -= _BODY / 2
    poster.row(HEADINGS, _BODY)
    poster.rule()
    name_width = 78 * mm
    for row in sheet.rows:
        figures = (
            ["", "", ""]
            if row.approval_reference is None
            else [_rials(row.government_share), _rials(row.office_fee_cap), _rials(row.total_cap)]
        )
        name = wrapped_lines(
            f"{row.service_name} ({to_persian_digits(row.service_code)})", poster.font, _BODY, name_width
        )
        poster.row([name[0], *figures], _BODY)
        for more in name[1:]:
            poster.text(more, _BODY)
        if extras := _extras_line(row):
            poster.paragraph(extras, _SMALL)
        poster.rule()
    poster.top -= _BODY
    poster.room_for(_QR_SIZE + _SMALL * 3)
    qr_top = poster.top
    # The advice on the right, the QR code beside it on the left with the page's address under it.
    poster.paragraph(ADVICE, _BODY, poster.right - _MARGIN - _QR_SIZE - 8 * mm)
    _draw_qr(canvas, page_url, _MARGIN, qr_top - _QR_SIZE)
    canvas.setFont(poster.font, _SMALL)
    canvas.drawString(_MARGIN, qr_top - _QR_SIZE - _SMALL * 1.5, page_url)
    canvas.save()
    return buffer.getvalue()
