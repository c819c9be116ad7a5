"""The cancellation receipt: built from the receipt it cancels, signed into the same chain, audited offline with
it, printed and verified like any receipt."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from gateway.core.identifiers import make_tracking_code
from receipts.audit import FindingKind, verify_chain
from receipts.cancellation import CancellationInput, build_cancellation, issue_cancellation
from receipts.chain import issue_receipt, receipt_hash
from receipts.model import ReceiptInputError, field_value
from receipts.qr import QrContent, make_qr_payload, verify_qr_payload
from receipts.render_pdf import render_pdf
from receipts.render_text import render_thermal
from receipts.signing import Keyring
from receipts.verification import cancellation_verdict
from tests.receipts.factory import ISSUED_AT, receipt_input, signed_chain

K = FindingKind


def cancel(original: dict, after: dict, keyring: Keyring, **changes) -> dict:
    """The cancellation of `original`, as the receipt after `after` in the chain."""
    seq = after["receipt"]["seq"] + 1
    fields = {
        "original": original,
        "original_hash": receipt_hash(original),
        "seq": seq,
        "tracking_code": make_tracking_code(after["receipt"]["office_code"], seq),
        "issued_at": ISSUED_AT + timedelta(hours=2),
        "reason_code": "wrong_service",
        "reason_label": "انتخاب نادرست خدمت",
        "reason_text": "خدمت اشتباه انتخاب شد",
        "prev_hash": receipt_hash(after),
    }
    fields.update(changes)
    return issue_cancellation(CancellationInput(**fields), keyring).signed


@pytest.fixture
def chain_with_cancellation(keyring: Keyring) -> list[dict]:
    chain = signed_chain(keyring, 5)
    return [*chain, cancel(chain[2], chain[4], keyring)]


def test_a_cancellation_names_the_receipt_it_cancels_and_returns_its_amount(chain_with_cancellation):
    original, cancellation = chain_with_cancellation[2]["receipt"], chain_with_cancellation[5]["receipt"]
    assert cancellation["kind"] == "cancellation" and cancellation["seq"] == 6
    assert cancellation["cancels"] == {
        "tracking_code": original["tracking_code"],
        "hash": receipt_hash(chain_with_cancellation[2]),
        "issued_at": original["issued_at"],
    }
    assert field_value(cancellation, "amount") == field_value(original, "amount")
    assert field_value(cancellation, "cancelled_tracking_code") == original["tracking_code"]
    assert cancellation["payment"] == original["payment"]
    assert cancellation["reason"] == {"code": "wrong_service", "text": "خدمت اشتباه انتخاب شد"}


def test_a_chain_with_its_cancellation_audits_clean(chain_with_cancellation, keyring):
    report = verify_chain(chain_with_cancellation, keyring)
    assert report.ok, report.findings
    assert report.voided == {
        chain_with_cancellation[2]["receipt"]["tracking_code"]: chain_with_cancellation[5]["receipt"]["tracking_code"]
    }


def test_a_deleted_cancellation_breaks_the_chain_at_the_next_receipt(chain_with_cancellation, keyring):
    chain = chain_with_cancellation
    after = issue_receipt(
        receipt_input(7, prev_hash=receipt_hash(chain[5]), issued_at=ISSUED_AT + timedelta(hours=3)), keyring
    )
    report = verify_chain([*chain[:5], after.signed], keyring)
    assert [(f.kind, f.seq) for f in report.findings] == [(K.SEQ_GAP, 7), (K.BROKEN_LINK, 7)]
    assert report.voided == {}


def test_an_altered_cancellation_is_caught(chain_with_cancellation, keyring):
    altered = copy.deepcopy(chain_with_cancellation)
    altered[5]["receipt"]["fields"][4]["value"] = 1  # the amount returned
    report = verify_chain(altered, keyring)
    assert [(f.kind, f.seq) for f in report.findings] == [(K.ALTERED, 6)]


def test_a_cancellation_of_another_version_of_the_receipt_is_caught(keyring):
    chain = signed_chain(keyring, 3)
    forged_original = copy.deepcopy(chain[1])
    forged_original["receipt"]["fields"][4]["value"] = 9
    report = verify_chain([*chain, cancel(forged_original, chain[2], keyring)], keyring)
    assert [(f.kind, f.seq) for f in report.findings] == [(K.CANCELS_MISMATCH, 4)]


def test_a_receipt_cancelled_twice_is_caught(keyring):
    chain = signed_chain(keyring, 2)
    first = cancel(chain[0], chain[1], keyring)
    second = cancel(chain[0], first, keyring)
    report = verify_chain([*chain, first, second], keyring)
    assert [(f.kind, f.seq) for f in report.findings] == [(K.CANCELLED_TWICE, 4)]


def test_a_cancelled_receipt_missing_from_the_export_is_caught_unless_it_precedes_the_export(keyring):
    chain = signed_chain(keyring, 4)
    cancellation = cancel(chain[1], chain[3], keyring)  # seq 5 cancels seq 2
    assert verify_chain([*chain, cancellation], keyring).ok
    assert verify_chain([chain[3], cancellation], keyring).ok  # seq 2 lies before the export's anchor
    missing = verify_chain([chain[0], *chain[2:], cancellation], keyring)
    assert (K.CANCELS_UNKNOWN, 5) in [(f.kind, f.seq) for f in missing.findings]


def test_a_cancellation_cannot_itself_be_cancelled(chain_with_cancellation, keyring):
    with pytest.raises(ReceiptInputError):
        cancel(chain_with_cancellation[5], chain_with_cancellation[5], keyring)


def test_the_reason_text_is_required(keyring):
    chain = signed_chain(keyring, 1)
    with pytest.raises(ReceiptInputError):
        build_cancellation(
            CancellationInput(
                chain[0],
                receipt_hash(chain[0]),
                2,
                "102030400000000029",
                ISSUED_AT,
                "other",
                "سایر",
                " ",
                receipt_hash(chain[0]),
            )
        )


def test_printed_forms_and_qr_of_a_cancellation(chain_with_cancellation, keyring):
    cancellation = chain_with_cancellation[5]
    payload = make_qr_payload(cancellation, keyring)
    scanned = verify_qr_payload(payload, keyring.verifying)
    assert scanned.ok and QrContent.unpack(scanned.content.pack()).describes(cancellation)
    text = render_thermal(cancellation, payload)
    assert "رسید ابطال و استرداد وجه" in text and "علت ابطال" in text and "مبلغ مسترد شده" in text
    for size in ("a5", "80mm"):
        assert render_pdf(cancellation, size, payload).startswith(b"%PDF")


def test_verification_says_voided_by_which_cancellation(chain_with_cancellation):
    original, cancellation = chain_with_cancellation[2], chain_with_cancellation[5]
    row = {
        "tracking_code": cancellation["receipt"]["tracking_code"],
        "hash": receipt_hash(cancellation),
        "signed": cancellation,
    }
    assert cancellation_verdict(original["receipt"], row)["voided_by"] == {
        "tracking_code": cancellation["receipt"]["tracking_code"],
        "issued_at": cancellation["receipt"]["issued_at"],
        "reason": "wrong_service",
        "amount_returned": field_value(original["receipt"], "amount"),
        "returned_by": "reversal",
    }
    assert cancellation_verdict(original["receipt"], row)["refunded"] is False
    assert cancellation_verdict(original["receipt"], None) == {
        "kind": "receipt",
        "voided": False,
        "refunded": False,
        "voided_by": None,
    }
    original_row = {
        "tracking_code": original["receipt"]["tracking_code"],
        "hash": receipt_hash(original),
        "signed": original,
    }
    assert cancellation_verdict(cancellation["receipt"], original_row)["cancels"]["matches_stored_receipt"] is True


def test_a_refunds_cancellation_says_so_in_its_signed_data_print_and_verification(keyring):
    chain = signed_chain(keyring, 3)
    refund = cancel(chain[1], chain[2], keyring, returned_by="refund")
    reversal = cancel(chain[1], chain[2], keyring)

    assert (refund["receipt"]["returned_by"], reversal["receipt"]["returned_by"]) == ("refund", "reversal")
    assert not verify_chain([*chain, refund], keyring.verifying).findings
    assert "استرداد به کارت از طریق تسویه" in render_thermal(refund, make_qr_payload(refund, keyring))
    assert "از طریق تسویه" not in render_thermal(reversal, make_qr_payload(reversal, keyring))
    row = {"tracking_code": refund["receipt"]["tracking_code"], "hash": receipt_hash(refund), "signed": refund}
    verdict = cancellation_verdict(chain[1]["receipt"], row)
    assert (verdict["voided"], verdict["refunded"], verdict["voided_by"]["returned_by"]) == (True, True, "refund")


def test_money_goes_back_by_a_reversal_or_a_refund_only(keyring):
    chain = signed_chain(keyring, 2)
    with pytest.raises(ReceiptInputError, match="returned_by"):
        cancel(chain[0], chain[1], keyring, returned_by="cash")
