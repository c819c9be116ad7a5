from __future__ import annotations

import copy

import pytest

from receipts.chain import issue_receipt
from receipts.model import REQUIRED_FIELDS
from receipts.printed import COPY_MARK, Reprint, printed_sections
from receipts.render_text import CHARSETS, LEFT_TO_RIGHT_MARK, WIDTH, columns, render_thermal
from receipts.signing import Keyring
from tests.receipts.factory import longest_receipt_input, receipt_input


def printed_lines(text: str) -> list[str]:
    """The lines printed as text: everything before the QR payload."""
    lines = text.splitlines()
    return lines[: next(index for index, line in enumerate(lines) if line.startswith("PK1."))]


@pytest.mark.parametrize("charset", CHARSETS)
def test_every_printed_line_is_exactly_48_columns(signed: dict, qr_payload: str, charset: str) -> None:
    text = render_thermal(signed, qr_payload, charset=charset)

    assert text.endswith("\n")
    assert all(columns(line) == WIDTH for line in printed_lines(text))


def test_zero_width_marks_count_zero_and_wide_characters_two(keyring: Keyring, qr_payload: str) -> None:
    # ZWNJ in the names, left-to-right marks around the card number, a wide emoji the font draws.
    signed = issue_receipt(
        receipt_input(recipient_name="مهدی‌نیا خانه‌دار 😀", service_name="ثبت‌نام کارت هوشمند ملی"), keyring
    ).signed
    lines = printed_lines(render_thermal(signed, qr_payload))

    name_line = next(line for line in lines if "مهدی‌نیا" in line)
    card_line = next(line for line in lines if "شماره کارت" in line)
    assert name_line.count("\u200c") == 3 and "😀" in name_line
    assert len(name_line) == WIDTH + 3 - 1  # a ZWNJ takes no column, the emoji takes two
    assert LEFT_TO_RIGHT_MARK in card_line and len(card_line) == WIDTH + 2
    assert all(columns(line) == WIDTH for line in lines)


def test_long_values_wrap_within_48_columns(signed: dict, qr_payload: str) -> None:
    long_address = copy.deepcopy(signed)
    long_address["receipt"]["fields"][8]["value"] = "، ".join(["خیابان شهید بهشتی کوچه دوازدهم پلاک ۱۲۳"] * 4)

    lines = printed_lines(render_thermal(long_address, qr_payload))

    assert all(columns(line) == WIDTH for line in lines)
    assert sum("خیابان شهید بهشتی" in line for line in lines) >= 3


def test_the_longest_values_stay_within_48_columns_and_whole(keyring: Keyring, qr_payload: str) -> None:
    signed = issue_receipt(longest_receipt_input(), keyring).signed
    lines = printed_lines(render_thermal(signed, qr_payload))

    assert all(columns(line) == WIDTH for line in lines)
    joined = "".join(line.strip(" " + LEFT_TO_RIGHT_MARK) for line in lines)
    for section in printed_sections(signed):
        for row in section.rows:
            assert row.value.replace(" ", "") in joined.replace(" ", ""), row.label


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


def test_windows_1256_takes_persian_letters_and_digits_into_the_code_page(keyring: Keyring, qr_payload: str) -> None:
    signed = issue_receipt(receipt_input(recipient_name="مریم یگانه 🧾 中"), keyring).signed
    text = render_thermal(signed, qr_payload, charset="windows-1256")
    raw = text.encode("windows-1256")  # never fails

    assert "نام خدمت\u200cگيرنده: مريم يگانه ? ?" in text  # Persian yeh as Arabic yeh, the rest replaced visibly
    assert "مبلغ اخذ شده: 1,250,000 ريال" in text  # digits and the thousands separator as the code page has them
    assert f"{LEFT_TO_RIGHT_MARK}603799******1234{LEFT_TO_RIGHT_MARK}".encode("windows-1256") in raw
    assert b"\xfd" in raw and b"\x9d" in raw  # LRM and ZWNJ have their own bytes
    assert text.endswith(qr_payload[-(len(qr_payload) % WIDTH or WIDTH) :] + "\n")
    assert all(columns(line) == WIDTH for line in printed_lines(text))


def test_unknown_charset_is_refused(signed: dict, qr_payload: str) -> None:
    with pytest.raises(ValueError, match="utf-8, windows-1256"):
        render_thermal(signed, qr_payload, charset="iran-system")


def test_continuation_lines_of_a_right_to_left_value_keep_its_direction(keyring: Keyring, qr_payload: str) -> None:
    numbers = " ".join(f"{n}({n + 1})" for n in range(10, 40))
    signed = issue_receipt(receipt_input(licence_number=f"پروانه {numbers}"), keyring).signed
    lines = printed_lines(render_thermal(signed, qr_payload))

    continuation = [line.strip() for line in lines if "(" in line and "پروانه" not in line and ":" not in line]
    assert len(continuation) >= 3
    # No left-to-right marks: the printer lays the digits and brackets out in the right-to-left value's order.
    assert all(LEFT_TO_RIGHT_MARK not in line for line in continuation)
    assert all(columns(line) == WIDTH for line in lines)


def test_a_reprint_opens_with_the_copy_mark_within_48_columns(signed: dict, qr_payload: str) -> None:
    original = render_thermal(signed, qr_payload)
    reprinted = render_thermal(signed, qr_payload, Reprint(2, "2026-11-23T16:40:00Z"))

    assert COPY_MARK not in original
    lines = reprinted.splitlines()
    assert lines[3].strip() == COPY_MARK and f"شماره رونوشت: {LEFT_TO_RIGHT_MARK}۱{LEFT_TO_RIGHT_MARK}" in reprinted
    assert all(columns(line) == WIDTH for line in printed_lines(reprinted))
    assert lines[7:] == original.splitlines()[3:]  # after the title, the copy mark, then the same paper
