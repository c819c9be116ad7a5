from __future__ import annotations

import copy

from receipts.model import REQUIRED_FIELDS
from receipts.printed import COPY_MARK, Reprint, printed_sections
from receipts.render_text import LEFT_TO_RIGHT_MARK, WIDTH, render_thermal


def test_every_line_fits_48_columns(signed: dict, qr_payload: str) -> None:
    text = render_thermal(signed, qr_payload)

    assert text.endswith("\n")
    assert all(len(line) <= WIDTH for line in text.splitlines())


def test_long_values_wrap_within_48_columns(signed: dict, qr_payload: str) -> None:
    long_address = copy.deepcopy(signed)
    long_address["receipt"]["fields"][8]["value"] = "، ".join(["خیابان شهید بهشتی کوچه دوازدهم پلاک ۱۲۳"] * 4)

    lines = render_thermal(long_address, qr_payload).splitlines()

    assert all(len(line) <= WIDTH for line in lines)
    assert sum("خیابان شهید بهشتی" in line for line in lines) >= 3


def test_every_field_is_present_in_persian_digits(signed: dict, qr_payload: str) -> None:
    text = render_thermal(signed, qr_payload)

    for _, label in REQUIRED_FIELDS:
        assert f"{label}:" in text
    for section in printed_sections(signed):
        for row in section.rows:
            assert row.label in text
            for word in row.value.split(" "):
                assert word in text, (row.label, word)
    assert "۱۰۲۰۳۰۴۰۰۰۰۰۰۰۰۰۱۲" in text  # tracking code
    assert "۱٬۲۵۰٬۰۰۰ ریال" in text  # amount
    assert "۱۴۰۵/۰۹/۰۲ ساعت ۱۱:۴۵:۰۰" in text  # Jalali date, Tehran time
    assert "مریم احمدی" in text and "زهرا حسینی" in text
    body = text[: text.index("PK1.")]
    assert not any(char in "0123456789" for char in body.replace("mellat", ""))


def test_text_is_right_aligned_in_logical_order(signed: dict, qr_payload: str) -> None:
    lines = render_thermal(signed, qr_payload).splitlines()

    service_line = next(line for line in lines if "نام خدمت:" in line)
    assert len(service_line) == WIDTH and service_line.endswith("صدور گذرنامه")
    assert service_line.strip() == "نام خدمت: صدور گذرنامه"  # logical order, not reversed or shaped


def test_left_to_right_values_are_isolated_with_marks(signed: dict, qr_payload: str) -> None:
    text = render_thermal(signed, qr_payload)

    assert f"شماره کارت: {LEFT_TO_RIGHT_MARK}۶۰۳۷۹۹******۱۲۳۴{LEFT_TO_RIGHT_MARK}" in text


def test_qr_payload_can_be_read_back_from_the_last_lines(signed: dict, qr_payload: str) -> None:
    lines = render_thermal(signed, qr_payload).splitlines()
    caption = next(index for index, line in enumerate(lines) if "رمزینه" in line)

    assert "".join(lines[caption + 1 :]) == qr_payload


def test_extras_are_listed_with_their_quantity(signed: dict, qr_payload: str) -> None:
    assert "اسکن صفحه (۳ عدد): ۳۰٬۰۰۰ ریال" in render_thermal(signed, qr_payload)


def test_a_reprint_opens_with_the_copy_mark_within_48_columns(signed: dict, qr_payload: str) -> None:
    original = render_thermal(signed, qr_payload)
    reprinted = render_thermal(signed, qr_payload, Reprint(2, "2026-11-23T16:40:00Z"))

    assert COPY_MARK not in original
    lines = reprinted.splitlines()
    assert lines[3].strip() == COPY_MARK and f"شماره رونوشت: {LEFT_TO_RIGHT_MARK}۱{LEFT_TO_RIGHT_MARK}" in reprinted
    assert all(len(line) <= WIDTH for line in lines)
    assert lines[7:] == original.splitlines()[3:]  # after the title, the copy mark, then the same paper
