"""The printed forms of charges through the whole path, one per policy and answer: the A5 and 80 mm PDFs the API
serves, read back with pdftotext, and its thermal text carry the authentication line the signed receipt holds
(or that the service asks nobody), and the PDFs' QR codes still scan to the receipt's QR URL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from receipts.render_text import LEFT_TO_RIGHT_MARK
from tests.identity.conftest import TERMINAL
from tests.identity.support import body_for, fresh_subject, known_to_both
from tests.receipts.test_render_pdf import comparable

LABEL = "احراز اصالت خدمت‌گیرنده"

# (case, service, how the subject is known to the simulators, the line on the paper)
CASES = [
    ("required_confirmed", "2103", "both", "تأیید با استعلام ثبت احوال و شاهکار"),
    (
        "advisory_mismatch",
        "3103",
        "civil registry only",
        "استعلام ثبت احوال: تطابق، شاهکار: مغایرت؛ تطابق برای این خدمت الزامی نیست",
    ),
    ("not_required", "1101", "nobody", "بدون استعلام؛ برای این خدمت الزامی نیست"),
]


def _run(*command: str | Path) -> str:
    return subprocess.run([str(part) for part in command], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize(("case", "service", "known", "line"), CASES, ids=[case[0] for case in CASES])
async def test_each_printed_form_says_how_the_recipient_was_authenticated(
    case, service, known, line, gateway, keys, caps, registry, shahkar, tmp_path
):
    subject = fresh_subject(birth_date=None) if known == "nobody" else fresh_subject()
    if known == "both":
        await known_to_both(registry, shahkar, subject)
    elif known == "civil registry only":
        await registry.add_person(subject.recipient.identifier)
    key = await keys(f"t:{TERMINAL}")
    status, charge = await gateway.charge(key, body_for(subject, service, caps[service]))
    assert status == 201, charge
    signed = charge["receipt"]["receipt"].get("authentication")
    assert (signed is None) == (known == "nobody")
    if signed is not None:
        assert (signed["label"], signed["value"]) == (LABEL, line)

    receipt = f"/v1/receipts/{charge['tracking_code']}"
    for size in ("a5", "80mm"):
        status, pdf = await gateway.request("GET", f"{receipt}.pdf?size={size}", key=key)
        assert status == 200
        path = tmp_path / f"{size}.pdf"
        path.write_bytes(pdf)
        text = comparable(_run("pdftotext", path, "-"))
        assert comparable(LABEL) in text and comparable(line) in text, size
        _run("pdftoppm", "-png", "-r", "100", "-singlefile", path, tmp_path / size)
        assert _run("zbarimg", "-q", "--raw", tmp_path / f"{size}.png").strip() == charge["qr_url"], size

    status, thermal = await gateway.request("GET", f"{receipt}.txt", key=key)
    assert status == 200
    flat = "".join(thermal.decode().replace(LEFT_TO_RIGHT_MARK, "").split())
    assert f"{LABEL}:{line}".replace(" ", "") in flat
