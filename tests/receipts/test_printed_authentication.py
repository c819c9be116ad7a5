"""How the recipient was authenticated, on paper: the signed `authentication` line printed on the A5 and 80 mm PDFs
and the thermal text for each verdict (confirmed by the civil registry and Shahkar, or by Shahkar alone; an advisory
charge neither confirmed; a service that asks nobody), read back from the PDFs with pdftotext, with the QR code
still scanning; a cancellation prints no such line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.core.identity import IdentityPolicy, InquiryService, Verdict
from receipts.chain import issue_receipt
from receipts.printed import printed_sections
from receipts.render_pdf import render_pdf
from receipts.render_text import LEFT_TO_RIGHT_MARK, WIDTH, columns, render_thermal
from receipts.signing import Keyring
from tests.receipts.factory import authentication, receipt_input
from tests.receipts.test_cancellation import cancel
from tests.receipts.test_render_pdf import comparable, run
from tests.receipts.test_render_text import printed_lines

LABEL = "احراز اصالت خدمت‌گیرنده"  # letter 100/15131 item 8
CIVIL, SHAHKAR = InquiryService.CIVIL_REGISTRY, InquiryService.SHAHKAR

# (case, the signed line or None for a service that asks nobody, what the paper says)
CASES = [
    (
        "both_confirmed",
        authentication(IdentityPolicy.REQUIRED, (CIVIL, Verdict.MATCHED), (SHAHKAR, Verdict.MATCHED)),
        "تأیید با استعلام ثبت احوال و شاهکار",
    ),
    (
        "shahkar_confirmed",
        authentication(IdentityPolicy.REQUIRED, (SHAHKAR, Verdict.MATCHED)),
        "تأیید با استعلام شاهکار",
    ),
    (
        "advisory_mismatch",
        authentication(IdentityPolicy.ADVISORY, (CIVIL, Verdict.MISMATCHED), (SHAHKAR, Verdict.MATCHED)),
        "استعلام ثبت احوال: مغایرت، شاهکار: تطابق؛ تطابق برای این خدمت الزامی نیست",
    ),
    (
        "advisory_unanswered",
        authentication(IdentityPolicy.ADVISORY, (CIVIL, Verdict.MATCHED), (SHAHKAR, Verdict.UNAVAILABLE)),
        "استعلام ثبت احوال: تطابق، شاهکار: بی‌پاسخ؛ تطابق برای این خدمت الزامی نیست",
    ),
    ("not_required", None, "بدون استعلام؛ برای این خدمت الزامی نیست"),
]


@pytest.fixture(scope="module", params=CASES, ids=[case[0] for case in CASES])
def case(request: pytest.FixtureRequest, keyring: Keyring) -> tuple[dict, str]:
    _, signed_line, printed = request.param
    signed = issue_receipt(receipt_input(authentication=signed_line), keyring).signed
    assert signed["receipt"].get("authentication", {}).get("value") == signed_line
    return signed, printed


def test_the_line_follows_the_nine_fields(case: tuple[dict, str]) -> None:
    signed, printed = case
    first = printed_sections(signed)[0]
    assert len(first.rows) == 10
    assert (first.rows[-1].label, first.rows[-1].value) == (LABEL, printed)


@pytest.mark.parametrize("size", ["a5", "80mm"])
def test_the_pdfs_read_back_with_the_line_and_a_scanning_qr(
    case: tuple[dict, str], size: str, printed_qr: str, tmp_path: Path
) -> None:
    signed, printed = case
    path = tmp_path / f"{size}.pdf"
    path.write_bytes(render_pdf(signed, size, printed_qr))

    text = comparable(run("pdftotext", path, "-").decode("utf-8"))
    assert comparable(LABEL) in text
    assert comparable(printed) in text
    assert re.search(r"Pages:\s+1\n", run("pdfinfo", path).decode())
    run("pdftoppm", "-png", "-r", "100", "-singlefile", path, tmp_path / "page")
    assert run("zbarimg", "-q", "--raw", tmp_path / "page.png").decode().strip() == printed_qr


def test_the_thermal_text_carries_the_line_in_48_columns(case: tuple[dict, str], qr_payload: str) -> None:
    signed, printed = case
    lines = printed_lines(render_thermal(signed, qr_payload))

    assert all(columns(line) == WIDTH for line in lines)
    at = next(index for index, line in enumerate(lines) if LABEL in line)
    # The label and the value, on one line or wrapped onto the lines that follow it.
    following = " ".join(line.strip(" " + LEFT_TO_RIGHT_MARK) for line in lines[at : at + 4])
    assert f"{LABEL}: {printed}".replace(" ", "") in following.replace(" ", "")


def test_the_windows_1256_thermal_text_carries_the_line(case: tuple[dict, str], qr_payload: str) -> None:
    signed, _ = case
    text = render_thermal(signed, qr_payload, charset="windows-1256")
    assert "احراز اصالت خدمت\u200cگيرنده:" in text  # Persian yeh in the code page's form
    assert text.encode("windows-1256")


def test_a_cancellation_prints_no_authentication_line(keyring: Keyring, qr_payload: str) -> None:
    line = authentication(IdentityPolicy.REQUIRED, (CIVIL, Verdict.MATCHED), (SHAHKAR, Verdict.MATCHED))
    original = issue_receipt(receipt_input(authentication=line), keyring).signed
    cancellation = cancel(original, original, keyring)

    assert all(row.label != LABEL for section in printed_sections(cancellation) for row in section.rows)
    assert LABEL not in render_thermal(cancellation, qr_payload)
