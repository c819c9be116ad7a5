"""Regenerate docs/receipt-a5.png and docs/receipt-80mm.png from the demo receipt.

    .venv/bin/python -m tests.receipts.make_demo_images

The demo key is derived from a fixed seed, so the images only change when the layout does.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from receipts.chain import issue_receipt
from receipts.qr import make_qr_payload
from receipts.render_pdf import render_pdf
from tests.receipts.factory import demo_keyring, receipt_input

DOCS = Path(__file__).resolve().parents[2] / "docs"


def main() -> None:
    keyring = demo_keyring()
    signed = issue_receipt(receipt_input(), keyring).signed
    payload = make_qr_payload(signed, keyring)
    with tempfile.TemporaryDirectory() as scratch:
        for size, resolution in (("a5", "110"), ("80mm", "180")):
            pdf = Path(scratch) / f"receipt-{size}.pdf"
            pdf.write_bytes(render_pdf(signed, size, payload))
            subprocess.run(
                ["pdftoppm", "-png", "-r", resolution, "-singlefile", str(pdf), str(DOCS / f"receipt-{size}")],
                check=True,
            )
            print(DOCS / f"receipt-{size}.png")


if __name__ == "__main__":
    main()
