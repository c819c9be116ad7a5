"""What the printed forms show, in logical order with Persian digits: shared by the PDF and thermal renderers.

The nine required fields come first, with the labels the signed document carries, then on a service receipt how
the recipient was authenticated (the signed `authentication` line, or «بدون استعلام» when the service's policy asks
nobody and the document has none), then the fee breakdown, the payment references and the office references.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.core.identity import NOT_ASKED_RECEIPT_VALUE, RECEIPT_LABEL
from gateway.core.jalali import format_jalali_datetime
from gateway.core.text import format_rials, to_persian_digits
from receipts.model import parse_timestamp
from receipts.printable import DEFAULT_FONT_PATH, REPLACEMENT, CanDraw, font_can_draw, printable

TITLE = "رسید الکترونیکی ارایه خدمت"
CANCELLATION_TITLE = "رسید ابطال و استرداد وجه"
SUBTITLE = "دفتر پیشخوان خدمات دولت"
QR_CAPTION = "رمزینه اصالت‌سنجی رسید"
COPY_MARK = "رونوشت"


@dataclass(frozen=True)
class Reprint:
    """A print of a receipt after its first: the paper says it is a copy, which one, and when it was printed."""

    number: int  # of the print: the first print is 1 (the original), so print 2 is copy 1
    printed_at: str  # UTC, RFC 3339

    @property
    def copy_number(self) -> int:
        return self.number - 1


@dataclass(frozen=True)
class PrintedRow:
    label: str
    value: str


@dataclass(frozen=True)
class PrintedSection:
    heading: str | None
    rows: tuple[PrintedRow, ...]


def has_rtl_letters(text: str) -> bool:
    """Whether the text holds right-to-left letters (Persian, Arabic, Hebrew), which need bidi layout."""
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def rials(amount: int) -> str:
    return f"{format_rials(amount)} ریال"


def jalali_date_time(issued_at: str) -> str:
    """`"2026-11-23T08:15:00Z"` → `"۱۴۰۵/۰۹/۰۲ ساعت ۱۱:۴۵:۰۰"` (Tehran wall clock)."""
    day, time = format_jalali_datetime(parse_timestamp(issued_at)).split(" ")
    return to_persian_digits(f"{day} ساعت {time}")


def title_of(document: Mapping[str, Any]) -> str:
    """The printed title: a service receipt's, or a cancellation's (`receipts.cancellation`)."""
    return CANCELLATION_TITLE if document.get("kind") == "cancellation" else TITLE


def _display_value(key: str, value: Any) -> str:
    if key == "amount":
        return rials(value)
    if key == "issued_at":
        return jalali_date_time(value)
    return to_persian_digits(str(value))


def _extra_row(extra: Mapping[str, Any]) -> PrintedRow:
    return PrintedRow(to_persian_digits(f"{extra['name']} ({extra['quantity']} عدد)"), rials(extra["amount"]))


def _authentication_row(document: Mapping[str, Any]) -> PrintedRow:
    """A service receipt's authentication line as signed, or that its service asks nobody."""
    signed = document.get("authentication")
    if signed is None:
        return PrintedRow(RECEIPT_LABEL, NOT_ASKED_RECEIPT_VALUE)
    return PrintedRow(signed["label"], to_persian_digits(signed["value"]))


def _copy_section(reprint: Reprint) -> PrintedSection:
    return PrintedSection(
        COPY_MARK,
        (
            PrintedRow("شماره رونوشت", to_persian_digits(str(reprint.copy_number))),
            PrintedRow("زمان چاپ رونوشت", jalali_date_time(reprint.printed_at)),
        ),
    )


def printed_sections(
    signed: Mapping[str, Any],
    can_draw: CanDraw | None = None,
    replacement: str = REPLACEMENT,
    reprint: Reprint | None = None,
) -> list[PrintedSection]:
    """The sections, every label and value made printable (`receipts.printable`) for a target that draws what
    `can_draw` accepts (by default, the default receipt font); a reprint's paper opens with the copy mark
    («رونوشت»), the original has none."""
    if can_draw is None:
        can_draw = font_can_draw(DEFAULT_FONT_PATH)
    return [
        PrintedSection(
            section.heading,
            tuple(
                PrintedRow(printable(row.label, can_draw, replacement), printable(row.value, can_draw, replacement))
                for row in section.rows
            ),
        )
        for section in _sections(signed, reprint)
    ]


def _payment_heading(cancellation: bool, refunded: bool) -> str:
    if refunded:
        return "استرداد به کارت از طریق تسویه"  # the PSP returns it in its settlement, after the reversal window
    return "استرداد به کارت" if cancellation else "پرداخت با کارت"


def _sections(signed: Mapping[str, Any], reprint: Reprint | None) -> list[PrintedSection]:
    document = signed["receipt"]
    breakdown, payment = document["breakdown"], document["payment"]
    cancellation = document.get("kind") == "cancellation"
    refunded = cancellation and document.get("returned_by") == "refund"
    copy = [] if reprint is None else [_copy_section(reprint)]
    return [
        *copy,
        PrintedSection(
            None,
            (
                *(
                    PrintedRow(field["label"], _display_value(field["key"], field["value"]))
                    for field in document["fields"]
                ),
                # A cancellation repeats no inquiry: it has no such line.
                *(() if cancellation else (_authentication_row(document),)),
            ),
        ),
        PrintedSection(
            "جزئیات مبلغ مسترد شده" if cancellation else "جزئیات مبلغ",
            (
                PrintedRow("سهم دستگاه اجرایی", rials(breakdown["government_share"])),
                PrintedRow("کارمزد دفتر", rials(breakdown["office_fee"])),
                *(_extra_row(extra) for extra in breakdown["extras"]),
            ),
        ),
        PrintedSection(
            _payment_heading(cancellation, refunded),
            (
                PrintedRow("شماره کارت", to_persian_digits(payment["masked_pan"])),
                PrintedRow("شماره مرجع", to_persian_digits(payment["rrn"])),
                PrintedRow("شماره پیگیری", to_persian_digits(payment["stan"])),
                PrintedRow("شماره پایانه", to_persian_digits(payment["terminal_id"])),
                PrintedRow("ارائه‌دهنده خدمات پرداخت", payment["psp_id"]),
            ),
        ),
        PrintedSection(
            "مرجع",
            (
                PrintedRow("کد دفتر", to_persian_digits(document["office_code"])),
                PrintedRow("شماره ردیف رسید", to_persian_digits(str(document["seq"]))),
                PrintedRow("مصوبه تعرفه", to_persian_digits(document["tariff_reference"])),
            ),
        ),
    ]
