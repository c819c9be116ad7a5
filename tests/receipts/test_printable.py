"""Nothing raw reaches a printer: control characters, direction overrides and characters the receipt font cannot
draw never reach the thermal text or the PDF as they are, and both forms show the same replacement."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.chain import issue_receipt
from receipts.printable import DEFAULT_FONT_PATH, REPLACEMENT, font_can_draw, printable
from receipts.render_pdf import render_pdf
from receipts.render_text import render_thermal
from receipts.signing import Keyring
from tests.receipts.factory import receipt_input

CAN_DRAW = font_can_draw(DEFAULT_FONT_PATH)
# ESC @ (initialise), GS V (cut the paper), DLE EOT (status request), ESC p (open the cash drawer): ESC/POS commands.
ESC_POS = "\x1b@\x1dV\x00\x10\x04\x01\x1bp\x00\x19\xfa"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("نیم\u200cفاصله", "نیم\u200cفاصله"),  # ZWNJ stays
        ("a\u200db\u200ec\u200fd\u061ce", "a\u200db\u200ec\u200fd\u061ce"),  # ZWJ and the direction marks stay
        ("\x1b@علی", f"{REPLACEMENT}@علی"),
        ("a\x00b\x7fc\x9bd", f"a{REPLACEMENT}b{REPLACEMENT}c{REPLACEMENT}d"),  # C0, DEL, C1
        ("a\tb\nc\r\nd\u2028e\x85f", "a b c  d e f"),  # whitespace controls become spaces
        ("\u202eabc\u202c", "abc"),  # a right-to-left override would reorder the printed line
        ("a\u200bb\ufeffc\u2066d\u2069\U000e0041", "abcd"),  # other format characters go
        ("علی 🧾 رضایی", f"علی {REPLACEMENT} رضایی"),  # no glyph in the font
        ("\ue000\U0010fffd\ud800", REPLACEMENT * 3),  # private use, lone surrogate
        ("中文", REPLACEMENT * 2),
    ],
)
def test_printable_keeps_what_the_font_draws_and_replaces_the_rest(text: str, expected: str) -> None:
    assert printable(text, CAN_DRAW) == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_printable_text_holds_no_control_or_stray_format_character(text: str) -> None:
    result = printable(text, CAN_DRAW)

    for char in result:
        category = unicodedata.category(char)
        assert category not in ("Cc", "Cs", "Co", "Cn"), repr(char)
        assert category != "Cf" or char in "\u200c\u200d\u200e\u200f\u061c", repr(char)
        assert char == " " or not char.isspace(), repr(char)
        assert char in (" ", REPLACEMENT, "\u200c", "\u200d", "\u200e", "\u200f", "\u061c") or CAN_DRAW(char)
    assert printable(result, CAN_DRAW) == result  # idempotent


@pytest.fixture(scope="module")
def hostile(keyring: Keyring) -> dict:
    return issue_receipt(
        receipt_input(
            recipient_name=f"علی{ESC_POS}رضایی 🧾",
            operator_name="زهرا\u202e حسینی",
            office_address="تهران\x07، خیابان ونک 🚀",
        ),
        keyring,
    ).signed


def test_command_bytes_in_a_name_never_reach_the_thermal_text(hostile: dict, qr_payload: str) -> None:
    text = render_thermal(hostile, qr_payload)

    assert all(unicodedata.category(char) != "Cc" for char in text.replace("\n", ""))
    assert "\u202e" not in text
    encoded = text.encode("utf-8")
    assert not any(byte < 0x20 and byte != 0x0A for byte in encoded)
    for code_page in ("windows-1256",):
        raw = render_thermal(hostile, qr_payload, charset=code_page).encode(code_page)
        assert not any(byte < 0x20 and byte != 0x0A for byte in raw)


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", path, "-"], check=True, capture_output=True, timeout=60).stdout.decode()


@pytest.mark.parametrize("size", ["a5", "80mm"])
def test_the_pdf_and_the_text_show_the_same_replacements(
    hostile: dict, qr_payload: str, size: str, tmp_path: Path
) -> None:
    path = tmp_path / "receipt.pdf"
    path.write_bytes(render_pdf(hostile, size, qr_payload))
    pdf_text = _pdf_text(path)
    thermal = render_thermal(hostile, qr_payload)

    # ESC, NUL, DLE, EOT, SOH, ESC, NUL, EM of the commands (GS is whitespace to the stored form: a space), the
    # receipt emoji, the rocket and the bell.
    replaced = 11
    assert thermal.count(REPLACEMENT) == replaced
    assert pdf_text.count(REPLACEMENT) == replaced
    assert not any(unicodedata.category(char) == "Cc" for char in pdf_text if char not in "\n\f")
    assert "🧾" not in pdf_text and "🧾" not in thermal
