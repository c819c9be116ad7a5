from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import arabic_reshaper
import pytest
from bidi.algorithm import get_display

from gateway.core.text import to_ascii_digits
from receipts.chain import issue_receipt
from receipts.model import REQUIRED_FIELDS
from receipts.printed import COPY_MARK, QR_CAPTION, SUBTITLE, TITLE, Reprint, has_rtl_letters, printed_sections
from receipts.render_pdf import _visual, render_pdf
from receipts.signing import Keyring
from tests.receipts.factory import longest_receipt_input, receipt_input

_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")


def comparable(text: str) -> str:
    """Extracted and source text in one form: the letters and digits, in order, as base characters.

    pdftotext rebuilds logical order from the drawn (visual) glyphs, adding direction controls and
    dropping the zero-width non-joiner, and it may attach a neutral character such as the slash of
    "۴۵۱۲/پ" to the wrong side of a number. Punctuation is left out of the comparison for that reason.
    """
    return "".join(char for char in unicodedata.normalize("NFKC", text) if unicodedata.category(char)[0] in "LN")


def run(*command: str | Path) -> bytes:
    return subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=60).stdout


@pytest.fixture(scope="module", params=["a5", "80mm"])
def rendered(
    request: pytest.FixtureRequest, signed: dict, printed_qr: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    path = tmp_path_factory.mktemp("pdf") / f"receipt-{request.param}.pdf"
    path.write_bytes(render_pdf(signed, request.param, printed_qr))
    return request.param, path


def test_every_field_label_and_value_is_in_the_text(rendered: tuple[str, Path], signed: dict) -> None:
    _, path = rendered
    text = comparable(run("pdftotext", path, "-").decode("utf-8"))

    for _, label in REQUIRED_FIELDS:
        assert comparable(label) in text, label
    for section in printed_sections(signed):
        for row in section.rows:
            assert row.value.strip(), row.label
            assert comparable(row.value) in text, (row.label, row.value)
    for expected in (
        "۱۰۲۰۳۰۴۰۰۰۰۰۰۰۰۰۱۲",
        "۱٬۲۵۰٬۰۰۰ریال",
        "۱۴۰۵/۰۹/۰۲",
        "۱۱:۴۵:۰۰",
        "مریم احمدی",
        "۶۰۳۷۹۹******۱۲۳۴",
        "۶۰۱۲۳۴۵۶۷۸۹۰",
        "۱۲۳۴۵۶",
        "۱۰۰۰۰۰۰۱",
        "اسکنصفحه(۳عدد)",
    ):
        assert comparable(expected) in text, expected


def test_persian_is_drawn_shaped(rendered: tuple[str, Path]) -> None:
    _, path = rendered
    raw = run("pdftotext", path, "-").decode("utf-8")

    # Joined letter forms show that the text was shaped before drawing; isolated letters would not be.
    assert _PRESENTATION_FORMS.search(raw)
    assert "\ufee3\ufeae\ufbfe\ufee2" in raw  # مریم: initial meem, final reh, initial yeh, final meem


def test_page_size(rendered: tuple[str, Path]) -> None:
    size, path = rendered
    info = run("pdfinfo", path).decode()
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())

    assert pages == 1
    if size == "a5":
        assert (round(width), round(height)) == (420, 595)
    else:
        assert round(width) == 227  # 80 mm
        assert 300 < height < 800  # as tall as the content


def test_renders_to_png(rendered: tuple[str, Path], tmp_path: Path) -> None:
    _, path = rendered
    run("pdftoppm", "-png", "-r", "72", "-singlefile", path, tmp_path / "page")

    assert (tmp_path / "page.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("dpi", ["100", "300"])
def test_printed_qr_code_scans_back_even_at_100_dpi(
    rendered: tuple[str, Path], printed_qr: str, dpi: str, tmp_path: Path
) -> None:
    _, path = rendered
    run("pdftoppm", "-png", "-r", dpi, "-singlefile", path, tmp_path / "page")

    assert run("zbarimg", "-q", "--raw", tmp_path / "page.png").decode().strip() == printed_qr


def _word_boxes(path: Path) -> list[tuple[float, float, float, float]]:
    """Every word pdftotext finds, as (left, top, right, bottom) in points from the top left of the page."""
    html = run("pdftotext", "-bbox", path, "-").decode("utf-8")
    return [
        tuple(float(value) for value in match)
        for match in re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"', html)
    ]


@pytest.mark.parametrize("extras", [0, 1, 20])
def test_the_longest_receipt_is_one_a5_page_with_every_word_inside_the_margins(
    keyring: Keyring, qr_payload: str, tmp_path: Path, extras: int
) -> None:
    signed = issue_receipt(longest_receipt_input(extras), keyring).signed
    path = tmp_path / "longest.pdf"
    path.write_bytes(render_pdf(signed, "a5", qr_payload))

    info = run("pdfinfo", path).decode()
    assert re.search(r"Pages:\s+1\b", info)
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    boxes = _word_boxes(path)
    assert len(boxes) > 100
    margin = 12 * 72 / 25.4 - 1  # 12 mm, less a point for glyph side bearings
    for left, top, right, bottom in boxes:
        assert margin <= left and right <= width - margin, (left, right)
        assert margin <= top and bottom <= height - margin, (top, bottom)
    text = comparable(run("pdftotext", path, "-").decode("utf-8"))
    for _, label in REQUIRED_FIELDS:
        assert comparable(label) in text, label
    assert comparable("مصوبه تعرفه") in text  # the last row
    assert text.count(comparable("رونوشت")) >= extras


def test_a_long_receipt_with_few_extras_keeps_every_value_whole(
    keyring: Keyring, qr_payload: str, tmp_path: Path
) -> None:
    signed = issue_receipt(longest_receipt_input(1), keyring).signed
    path = tmp_path / "long.pdf"
    path.write_bytes(render_pdf(signed, "a5", qr_payload))

    text = comparable(run("pdftotext", path, "-").decode("utf-8"))
    assert "…" not in run("pdftotext", path, "-").decode("utf-8")
    for section in printed_sections(signed):
        for row in section.rows:
            assert comparable(row.value) in text, row.label


def test_wrapped_lines_of_a_right_to_left_value_keep_right_to_left_order(
    keyring: Keyring, qr_payload: str, tmp_path: Path
) -> None:
    # A licence number whose continuation lines hold digits and brackets only, no Persian letter.
    numbers = " ".join(f"{n}({n + 1})" for n in range(10, 40))
    signed = issue_receipt(receipt_input(licence_number=f"پروانه {numbers}"), keyring).signed
    path = tmp_path / "rtl.pdf"
    path.write_bytes(render_pdf(signed, "a5", qr_payload))

    # pdftotext marks the direction of each run it finds with embedding controls; only the characters matter here.
    lines = [re.sub("[\u202a-\u202e]", "", line).strip() for line in run("pdftotext", path, "-").decode().splitlines()]
    continuation = [line for line in lines if re.fullmatch(r"[()۰-۹ ]+", line) and "(" in line]
    assert len(continuation) >= 3
    for line in continuation:
        # Drawn right to left: the first pair of the line at the right, each bracket pair the right way round.
        assert re.fullmatch(r"(\([۰-۹]+\)[۰-۹]+ ?)+", line), line
        values = [int(to_ascii_digits(number)) for number in re.findall(r"[۰-۹]+", line)]
        assert values == sorted(values, reverse=True), line


def test_unknown_paper_size_is_refused(signed: dict, qr_payload: str) -> None:
    with pytest.raises(ValueError, match="a5, 80mm"):
        render_pdf(signed, "letter", qr_payload)


def test_output_is_deterministic(signed: dict, qr_payload: str) -> None:
    assert render_pdf(signed, "80mm", qr_payload) == render_pdf(signed, "80mm", qr_payload)


def test_lines_are_shaped_and_ordered_as_arabic_reshaper_and_python_bidi_give_them(signed: dict) -> None:
    reshaper = arabic_reshaper.ArabicReshaper()
    texts = [TITLE, SUBTITLE, QR_CAPTION, "", "لا", "(۳ عدد)"]
    for section in printed_sections(signed):
        texts += [section.heading or "", *(text for row in section.rows for text in (row.label, row.value))]

    for text in texts * 2:  # the second time from what was remembered
        expected = get_display(reshaper.reshape(text), base_dir="R") if has_rtl_letters(text) else text
        assert _visual(text) == expected, text


@pytest.mark.parametrize("size", ["a5", "80mm"])
def test_a_reprint_is_marked_as_a_copy_and_the_original_is_not(
    size: str, signed: dict, qr_payload: str, tmp_path: Path
) -> None:
    def text_of(reprint: Reprint | None) -> str:
        path = tmp_path / f"{size}-{reprint}.pdf"
        path.write_bytes(render_pdf(signed, size, qr_payload, reprint=reprint))
        return comparable(run("pdftotext", path, "-").decode("utf-8"))

    reprint = Reprint(3, "2026-11-23T16:40:00Z")
    copy = text_of(reprint)
    (mark,) = [section for section in printed_sections(signed, reprint=reprint) if section.heading == COPY_MARK]
    assert [(row.label, row.value) for row in mark.rows] == [
        ("شماره رونوشت", "۲"),  # print 3 is the second copy
        ("زمان چاپ رونوشت", "۱۴۰۵/۰۹/۰۲ ساعت ۲۰:۱۰:۰۰"),  # Tehran time
    ]
    for row in mark.rows:
        assert comparable(row.label) in copy and comparable(row.value) in copy
    assert comparable(COPY_MARK) not in text_of(None)
