from __future__ import annotations

import pytest

from receipts.chain import issue_receipt
from receipts.qr import make_qr_payload
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
