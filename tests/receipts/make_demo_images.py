"""Regenerate docs/receipt-a5.png and docs/receipt-80mm.png from the demo receipt (a service whose policy asked the
civil registry and Shahkar, both confirming the recipient), and docs/cancellation-80mm.png from its cancellation
receipt.

    .venv/bin/python -m tests.receipts.make_demo_images

The demo key is derived from a fixed seed, so the images only change when the layout does.
"""

from __future__ import annotations

import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

from gateway.core.identifiers import make_tracking_code
from gateway.core.identity import IdentityPolicy, InquiryService, Verdict
from receipts.cancellation import CancellationInput, issue_cancellation
from receipts.chain import issue_receipt
from receipts.qr import make_qr_payload
from receipts.render_pdf import render_pdf
from tests.receipts.factory import ISSUED_AT, OFFICE, authentication, demo_keyring, receipt_input

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _png(signed: dict, payload: str, size: str, resolution: str, name: str, scratch: str) -> None:
    pdf = Path(scratch) / f"{name}.pdf"
    pdf.write_bytes(render_pdf(signed, size, payload))
    subprocess.run(["pdftoppm", "-png", "-r", resolution, "-singlefile", str(pdf), str(DOCS / name)], check=True)
    print(DOCS / f"{name}.png")


def main() -> None:
    keyring = demo_keyring()
    confirmed = authentication(
        IdentityPolicy.REQUIRED,
        (InquiryService.CIVIL_REGISTRY, Verdict.MATCHED),
        (InquiryService.SHAHKAR, Verdict.MATCHED),
    )
    issued = issue_receipt(receipt_input(authentication=confirmed), keyring)
    signed = issued.signed
    cancellation = issue_cancellation(
        CancellationInput(
            original=signed,
            original_hash=issued.hash,
            seq=2,
            tracking_code=make_tracking_code(OFFICE, 2),
            issued_at=ISSUED_AT + timedelta(minutes=20),
            reason_code="agency_system_down",
            reason_label="قطع سامانه دستگاه ارایه‌دهنده خدمت",
            reason_text="سامانه گذرنامه پس از پرداخت در دسترس نبود",
            prev_hash=issued.hash,
        ),
        keyring,
    ).signed
    with tempfile.TemporaryDirectory() as scratch:
        for size, resolution in (("a5", "110"), ("80mm", "180")):
            _png(signed, make_qr_payload(signed, keyring), size, resolution, f"receipt-{size}", scratch)
        _png(cancellation, make_qr_payload(cancellation, keyring), "80mm", "180", "cancellation-80mm", scratch)


if __name__ == "__main__":
    main()
