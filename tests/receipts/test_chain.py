from __future__ import annotations

import hashlib
import itertools

import pytest

from receipts.audit import export_lines
from receipts.chain import genesis_hash, issue_receipt, receipt_hash
from receipts.model import ReceiptInputError
from receipts.signing import Keyring
from tests.receipts.factory import receipt_input, signed_chain


def test_genesis_hash_is_a_domain_separated_hash_of_the_office_code() -> None:
    assert genesis_hash("10203040") == hashlib.sha256(b"pishkhan-receipt-chain-v1:10203040").hexdigest()
    assert genesis_hash("10203040") != genesis_hash("10203041")


def test_each_receipt_carries_the_hash_of_the_one_before(keyring: Keyring) -> None:
    chain = signed_chain(keyring, 4)

    assert chain[0]["receipt"]["prev_hash"] == genesis_hash("10203040")
    for previous, current in itertools.pairwise(chain):
        assert current["receipt"]["prev_hash"] == receipt_hash(previous)
    assert [signed["receipt"]["seq"] for signed in chain] == [1, 2, 3, 4]


def test_receipt_hash_is_the_sha256_of_its_export_line(keyring: Keyring, signed: dict) -> None:
    [line] = export_lines([signed])

    assert receipt_hash(signed) == hashlib.sha256(line.rstrip("\n").encode()).hexdigest()
    assert issue_receipt(receipt_input(), keyring).hash == receipt_hash(signed)


def test_the_hash_covers_the_signature_too(signed: dict) -> None:
    other_signature = {**signed, "signature": "A" * 86}

    assert receipt_hash(other_signature) != receipt_hash(signed)


def test_an_offices_first_receipt_must_chain_to_its_genesis(keyring: Keyring) -> None:
    with pytest.raises(ReceiptInputError) as raised:
        issue_receipt(receipt_input(seq=1, prev_hash=genesis_hash("99999999")), keyring)
    assert raised.value.field == "prev_hash"
