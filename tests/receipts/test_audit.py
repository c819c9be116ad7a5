from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from receipts.audit import AuditReport, FindingKind, export_lines, read_lines, verify_chain
from receipts.chain import genesis_hash, issue_receipt, receipt_hash
from receipts.model import build_receipt, field_value
from receipts.signing import Keyring, VerifyingKey, VerifyingKeyring
from tests.receipts.factory import ISSUED_AT, receipt_input, seeded_key, signed_chain

K = FindingKind


def published(keyring: Keyring) -> VerifyingKeyring:
    return VerifyingKeyring.from_public_keys(orjson.loads(orjson.dumps(keyring.public_keys())))


@pytest.fixture(scope="module")
def chain(keyring: Keyring) -> list[dict]:
    return signed_chain(keyring, 20)


def audit(receipts: list[dict], keyring: Keyring) -> AuditReport:
    return verify_chain(receipts, published(keyring))


def found(report: AuditReport) -> list[tuple[FindingKind, int, int | None]]:
    return [(finding.kind, finding.position, finding.seq) for finding in report.findings]


def test_an_intact_chain_passes(chain: list[dict], keyring: Keyring) -> None:
    report = audit(chain, keyring)

    assert report.ok and report.first_break is None
    assert (report.office_code, report.receipts_checked, report.missing_seqs) == ("10203040", 20, ())
    assert report.last_hash == receipt_hash(chain[-1])


def test_an_export_file_round_trips(chain: list[dict], keyring: Keyring, tmp_path: Path) -> None:
    export = tmp_path / "office-10203040.jsonl"
    with export.open("w", encoding="utf-8") as file:
        file.writelines(export_lines(chain))

    with export.open(encoding="utf-8") as file:
        report = audit(list(read_lines(file)), keyring)

    assert report.ok and report.receipts_checked == 20
    assert len(export.read_text(encoding="utf-8").splitlines()) == 20


def test_a_deleted_receipt_is_caught_at_the_one_after_it(chain: list[dict], keyring: Keyring) -> None:
    without_8 = chain[:7] + chain[8:]

    report = audit(without_8, keyring)

    assert found(report) == [(K.SEQ_GAP, 7, 9), (K.BROKEN_LINK, 7, 9)]
    assert report.first_break.tracking_code == chain[8]["receipt"]["tracking_code"]
    assert "missing 8" in report.first_break.detail
    assert report.missing_seqs == ((8, 8),)


@pytest.mark.parametrize(
    ("forger_key_id", "kind"),
    [
        ("k-20260101-d3m0", K.ALTERED),  # claims the office's real key
        ("k-20260101-f0f0", K.UNKNOWN_KEY),  # signs under its own key id
    ],
)
def test_an_inserted_forgery_is_named(
    chain: list[dict], keyring: Keyring, forger_key_id: str, kind: FindingKind
) -> None:
    forger = Keyring([seeded_key("forger", forger_key_id)])
    forged = issue_receipt(
        receipt_input(
            seq=11,
            prev_hash=receipt_hash(chain[9]),
            recipient_name="ناشناس",
            issued_at=ISSUED_AT + timedelta(minutes=7 * 9 + 1),
        ),
        forger,
    ).signed

    report = audit([*chain[:10], forged, *chain[10:]], keyring)

    assert found(report) == [(kind, 10, 11), (K.SEQ_DUPLICATE, 11, 11), (K.BROKEN_LINK, 11, 11)]
    assert report.first_break.position == 10
    assert report.first_break.tracking_code == forged["receipt"]["tracking_code"]


def test_two_swapped_receipts_are_caught(chain: list[dict], keyring: Keyring) -> None:
    swapped = [*chain[:4], chain[5], chain[4], *chain[6:]]

    report = audit(swapped, keyring)

    assert report.first_break.kind is K.SEQ_GAP
    assert (report.first_break.position, report.first_break.seq) == (4, 6)
    assert report.first_break.tracking_code == chain[5]["receipt"]["tracking_code"]
    assert found(report) == [
        (K.SEQ_GAP, 4, 6),
        (K.BROKEN_LINK, 4, 6),
        (K.SEQ_OUT_OF_ORDER, 5, 5),
        (K.BROKEN_LINK, 5, 5),
        (K.TIME_REVERSED, 5, 5),
        (K.BROKEN_LINK, 6, 7),
    ]
    assert report.missing_seqs == ()  # nothing missing: a reordering, not a deletion


def test_an_altered_amount_is_caught_at_that_receipt(chain: list[dict], keyring: Keyring) -> None:
    tampered = copy.deepcopy(chain)
    document = tampered[11]["receipt"]
    document["fields"][4]["value"] = field_value(document, "amount") - 200_000
    document["breakdown"]["office_fee"] -= 200_000

    report = audit(tampered, keyring)

    assert found(report) == [(K.ALTERED, 11, 12), (K.BROKEN_LINK, 12, 13)]
    assert report.first_break.tracking_code == document["tracking_code"]


def test_a_replayed_receipt_is_a_duplicate(chain: list[dict], keyring: Keyring) -> None:
    report = audit([*chain[:5], chain[4], *chain[5:]], keyring)

    assert found(report) == [(K.SEQ_DUPLICATE, 5, 5), (K.BROKEN_LINK, 5, 5)]


def test_the_first_receipt_must_chain_to_the_offices_genesis(keyring: Keyring) -> None:
    # Genuinely signed, but chained to another office's genesis.
    stray = keyring.sign(build_receipt(receipt_input(prev_hash=genesis_hash("99999999"))))

    assert found(audit([stray], keyring)) == [(K.BROKEN_LINK, 0, 1)]


def test_time_running_backwards_is_caught(keyring: Keyring) -> None:
    times = [ISSUED_AT, ISSUED_AT + timedelta(minutes=10), ISSUED_AT + timedelta(minutes=5)]
    receipts, prev_hash = [], genesis_hash("10203040")
    for seq, issued_at in enumerate(times, start=1):
        issued = issue_receipt(receipt_input(seq=seq, issued_at=issued_at, prev_hash=prev_hash), keyring)
        receipts.append(issued.signed)
        prev_hash = issued.hash

    assert found(audit(receipts, keyring)) == [(K.TIME_REVERSED, 2, 3)]


def test_a_malformed_entry_is_reported_and_skipped(chain: list[dict], keyring: Keyring) -> None:
    report = audit([*chain[:3], {"receipt": "torn"}, *chain[3:]], keyring)

    assert found(report) == [(K.MALFORMED, 3, None)]


def test_a_receipt_of_another_office_is_flagged(chain: list[dict], keyring: Keyring) -> None:
    other_office = signed_chain(keyring, 1, office_code="50607080")[0]

    report = audit([*chain[:3], other_office], keyring)

    assert (K.OFFICE_MISMATCH, 3, 1) in found(report)


def test_an_export_starting_mid_chain_anchors_on_its_first_receipt(chain: list[dict], keyring: Keyring) -> None:
    report = audit(chain[5:], keyring)

    assert report.ok and report.receipts_checked == 15


def test_receipts_signed_before_a_key_rotation_still_verify(keyring: Keyring) -> None:
    june = datetime(2026, 6, 1, tzinfo=UTC)
    old = seeded_key("old", "k-20260101-0001", valid_to=june + timedelta(days=7))
    new = seeded_key("new", "k-20260601-0002", valid_from=june)
    rotating = Keyring([old, new])
    chain = signed_chain(rotating, 20, start=june - timedelta(days=10), step=timedelta(days=1))

    report = audit(chain, rotating)

    assert report.ok
    key_ids = [signed["receipt"]["key_id"] for signed in chain]
    assert key_ids == [old.key_id] * 10 + [new.key_id] * 10
    # Dropping the old key from the published list would strand the receipts it signed.
    only_new = VerifyingKeyring([new.verifying_key])
    assert [f.kind for f in verify_chain(chain, only_new).findings] == [K.UNKNOWN_KEY] * 10


def test_a_key_used_outside_its_published_validity_is_flagged(chain: list[dict]) -> None:
    key = seeded_key("demo", "k-20260101-d3m0")
    later = VerifyingKeyring(
        [VerifyingKey(key.key_id, key.private_key.public_key(), valid_from=ISSUED_AT + timedelta(minutes=7 * 15))]
    )

    report = verify_chain(chain, later)

    assert [(f.kind, f.seq) for f in report.findings] == [(K.KEY_NOT_VALID_AT_ISSUE, seq) for seq in range(1, 16)]


def test_report_serialises(chain: list[dict], keyring: Keyring) -> None:
    report = audit(chain[:2] + chain[3:], keyring)

    as_json = orjson.loads(orjson.dumps(report.to_dict()))

    assert as_json["ok"] is False
    assert as_json["first_break"] == {
        "kind": "seq_gap",
        "position": 2,
        "seq": 4,
        "tracking_code": chain[3]["receipt"]["tracking_code"],
        "detail": "expected seq 3, found 4 (missing 3)",
    }
    assert as_json["missing_seqs"] == [[3, 3]]


def test_read_lines_skips_blank_lines_and_names_a_broken_one() -> None:
    assert list(read_lines(['{"a":1}\n', "\n", '{"b":2}'])) == [{"a": 1}, {"b": 2}]
    with pytest.raises(ValueError, match="line 2"):
        list(read_lines(['{"a":1}\n', '{"b":\n']))
