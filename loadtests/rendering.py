"""Receipt rendering and verification rates, in process, on one core, with the receipts/ functions the routes use:
a PDF render includes making its signed QR payload; a verification is the signature and key-validity check."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from receipts.qr import make_qr_payload, verify_qr_payload
from receipts.render_pdf import render_pdf
from receipts.render_text import render_thermal
from receipts.signing import Keyring


def rate(operation: Callable[[], object], seconds: float) -> dict:
    """Calls per second of `operation`, run repeatedly for about `seconds` (at least 3 calls)."""
    calls = 0
    started = time.perf_counter()
    while calls < 3 or time.perf_counter() - started < seconds:
        operation()
        calls += 1
    elapsed = time.perf_counter() - started
    return {"calls": calls, "seconds": round(elapsed, 3), "per_second": round(calls / elapsed, 1)}


def rendering_rates(signed: Mapping[str, Any], keyring: Keyring, seconds: float) -> dict[str, dict]:
    if not keyring.verify(signed).ok:
        raise ValueError("the receipt to measure with does not verify with this keyring")
    qr = make_qr_payload(signed, keyring)
    return {
        "pdf_a5": rate(lambda: render_pdf(signed, "a5", make_qr_payload(signed, keyring)), seconds),
        "pdf_80mm": rate(lambda: render_pdf(signed, "80mm", make_qr_payload(signed, keyring)), seconds),
        "thermal_text": rate(lambda: render_thermal(signed, make_qr_payload(signed, keyring)), seconds),
        "verify_receipt": rate(lambda: keyring.verifying.verify(signed), seconds),
        "verify_qr": rate(lambda: verify_qr_payload(qr, keyring.verifying), seconds),
    }
