from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import arabic_reshaper
import pytest
from bidi.algorithm import get_display

from receipts.chain import issue_receipt
from receipts.model import REQUIRED_FIELDS
from receipts.printed import QR_CAPTION, SUBTITLE, TITLE, has_rtl_letters, printed_sections
from receipts.render_pdf import _visual, render_pdf
from receipts.signing import Keyring
from tests.receipts.factory import receipt_input

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


def test_a5_content_that_does_not_fit_continues_on_a_second_page(
    keyring: Keyring, qr_payload: str, tmp_path: Path
) -> None:
    extras = [{"code": f"copy_{n}", "name": f"رونوشت برگه {n}", "quantity": 1, "amount": 1_000} for n in range(1, 31)]
    signed = issue_receipt(
        receipt_input(
            amount=1_250_000, breakdown={"government_share": 1_000_000, "office_fee": 220_000, "extras": extras}
        ),
        keyring,
    ).signed
    path = tmp_path / "long.pdf"
    path.write_bytes(render_pdf(signed, "a5", qr_payload))

    assert re.search(r"Pages:\s+2\b", run("pdfinfo", path).decode())
    page_1, page_2 = (
        comparable(run("pdftotext", "-f", page, "-l", page, path, "-").decode("utf-8")) for page in ("1", "2")
    )
    row = comparable("رونوشت برگه")
    assert page_1.count(row) > 0 and page_2.count(row) > 0
    assert page_1.count(row) + page_2.count(row) == 30
    assert comparable("مصوبه تعرفه") in page_2  # the last row


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
