"""Signed tariff approvals: only an approval signed by a key of its approving body, valid on its approval day, loads."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.jalali import day_start_utc, parse_jalali_date
from gateway.core.tariffs import SIGNATURE_KEY, SOURCE_KEY
from gateway.registry.tariff_approvals import (
    ApprovalRefused,
    check_approval,
    read_approver_keys,
    sign_approval,
    verified_book,
)
from gateway.registry.tariff_files import load_tariff_documents
from receipts.canonical import b64url_decode, canonical_bytes
from receipts.signing import VerifyingKeyring


@pytest.fixture
def signed(sample_approvals):
    """The demo approvals as loaded from their files, each with its signature."""
    return load_tariff_documents(sample_approvals[0])


@pytest.fixture
def approvers(sample_approvals):
    return read_approver_keys(sample_approvals[1])


def _the_1403_approval(documents):
    return copy.deepcopy(next(d for d in documents if d["approval"]["reference"] == "CRA-COM-1402-07"))


def test_the_signed_demo_approvals_load_and_publish_what_anyone_can_check_offline(signed, approvers):
    book = verified_book(signed, approvers)
    published_keys = approvers.public_keys()
    for approval in book.approvals():
        signed_approval = approval["signed_approval"]
        assert signed_approval["key_id"] == "SAMPLE-demo-approver"
        assert approval["approving_body"] == "کمیسیون تنظیم مقررات و ارتباطات رادیویی"
        # Offline: nothing but the published entry and the published keys.
        offline = VerifyingKeyring.from_public_keys(published_keys)
        result = offline.check(
            signed_approval["key_id"],
            canonical_bytes(signed_approval["document"]),
            b64url_decode(signed_approval["signature"]),
            day_start_utc(parse_jalali_date(approval["approved_on"])),
            timedelta(days=1),
        )
        assert result.ok, result.detail


def test_a_raised_cap_is_refused_as_altered(signed, approvers):
    document = _the_1403_approval(signed)
    document["services"]["1101"]["office_fee_cap"] += 1
    with pytest.raises(ApprovalRefused, match=r"1403-sample\.toml: refused: the signature does not match the content"):
        check_approval(document, approvers, document[SOURCE_KEY])


def test_an_unsigned_approval_is_refused(signed, approvers):
    document = _the_1403_approval(signed)
    del document[SIGNATURE_KEY]
    with pytest.raises(ApprovalRefused, match=r"1403-sample\.toml: unsigned"):
        verified_book([document], approvers)


def test_an_approval_signed_by_an_unknown_key_is_refused(signed, approvers, stranger_key):
    document = _the_1403_approval(signed)
    document[SIGNATURE_KEY] = sign_approval(document, stranger_key, "x")
    with pytest.raises(ApprovalRefused, match="key 'stranger', which is not among the approver keys"):
        check_approval(document, approvers, "x")


def test_a_key_retired_before_the_approval_day_is_refused(signed, sample_key):
    document = _the_1403_approval(signed)  # approved on 1402/12/20 (2024-03-10)
    retired = dataclasses.replace(sample_key.verifying_key, valid_to=datetime(2024, 3, 9, 20, 30, tzinfo=UTC))
    with pytest.raises(ApprovalRefused, match=r"was not valid on the approval day 1402/12/20"):
        check_approval(document, VerifyingKeyring([retired]), "x")
    # Valid for any part of the approval day is enough.
    last_day = dataclasses.replace(sample_key.verifying_key, valid_to=datetime(2024, 3, 9, 21, tzinfo=UTC))
    check_approval(document, VerifyingKeyring([last_day]), "x")


def test_a_key_not_yet_valid_cannot_sign(signed, stranger_key):
    document = _the_1403_approval(signed)
    late = dataclasses.replace(stranger_key, valid_from=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(ApprovalRefused, match="was not valid on the approval day"):
        sign_approval(document, late, "x")


def test_a_malformed_signature_entry_is_refused(signed, approvers):
    document = _the_1403_approval(signed)
    document[SIGNATURE_KEY] = {**document[SIGNATURE_KEY], "signature": "not base64!"}
    with pytest.raises(ApprovalRefused, match="cannot be checked"):
        check_approval(document, approvers, "x")
    document[SIGNATURE_KEY] = {"key_id": "SAMPLE-demo-approver"}
    with pytest.raises(ApprovalRefused, match="not an Ed25519 signature entry"):
        check_approval(document, approvers, "x")


def test_with_no_approver_keys_file_every_approval_is_refused(signed, tmp_path):
    with pytest.raises(ApprovalRefused, match="not among the approver keys"):
        verified_book(signed, read_approver_keys(tmp_path / "absent.json"))
