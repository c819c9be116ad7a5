from __future__ import annotations

import pytest

from receipts.chain import issue_receipt
from receipts.qr import MAX_QR_BASE_URL, make_qr_payload, qr_url
from receipts.signing import Keyring
from tests.receipts.factory import demo_keyring, receipt_input


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return demo_keyring()


@pytest.fixture(scope="session")
def signed(keyring: Keyring) -> dict:
    return issue_receipt(receipt_input(), keyring).signed


@pytest.fixture(scope="session")
def qr_payload(signed: dict, keyring: Keyring) -> str:
    return make_qr_payload(signed, keyring)


@pytest.fixture(scope="session")
def printed_qr(qr_payload: str) -> str:
    """The QR text of a printed form under the longest public base URL allowed: the densest symbol printed."""
    return qr_url("https://" + "p" * (MAX_QR_BASE_URL - len("https://")), qr_payload)
