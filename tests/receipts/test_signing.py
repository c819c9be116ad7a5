from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receipts.canonical import b64url_decode, b64url_encode, canonical_bytes
from receipts.chain import issue_receipt
from receipts.model import build_receipt
from receipts.signing import Keyring, NoSigningKeyError, Verdict, VerifyingKey, VerifyingKeyring
from tests.receipts.factory import ISSUED_AT, receipt_input, seeded_key

JAN = datetime(2026, 1, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)
JUL = datetime(2026, 7, 1, tzinfo=UTC)


def published(keyring: Keyring) -> VerifyingKeyring:
    """The public keyring a third party builds from the JSON of GET /v1/keys alone."""
    return VerifyingKeyring.from_public_keys(orjson.loads(orjson.dumps(keyring.public_keys())))


def test_signature_is_ed25519_over_the_canonical_document_including_the_key_id(keyring: Keyring) -> None:
    document = build_receipt(receipt_input())

    signed = keyring.sign(document)

    assert set(signed) == {"receipt", "signature"}
    assert signed["receipt"] == {**document, "key_id": "k-20260101-d3m0"}
    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(keyring.public_keys()[0]["public_key"]))
    public_key.verify(b64url_decode(signed["signature"]), canonical_bytes(signed["receipt"]))  # raises if wrong
    assert len(signed["signature"]) == 86 and "=" not in signed["signature"]


def test_published_keys_verify_a_genuine_receipt_offline(keyring: Keyring, signed: dict) -> None:
    result = published(keyring).verify(signed)

    assert result.ok
    assert (result.verdict, result.key_id, result.signature_valid, result.key_valid_at_issue) == (
        Verdict.VALID,
        "k-20260101-d3m0",
        True,
        True,
    )
    assert result.to_dict()["valid"] is True


def test_public_key_list_shape(keyring: Keyring) -> None:
    [entry] = keyring.public_keys()

    assert entry == {
        "key_id": "k-20260101-d3m0",
        "algorithm": "Ed25519",
        "public_key": entry["public_key"],
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_to": None,
    }
    assert len(b64url_decode(entry["public_key"])) == 32


@pytest.mark.parametrize(
    "alter",
    [
        lambda s: s["receipt"]["fields"][4].update(value=1_250_001),  # amount
        lambda s: s["receipt"]["fields"][1].update(value="مریم احمدي"),  # one letter of the name
        lambda s: s["receipt"].update(prev_hash="0" * 64),
        lambda s: s["receipt"]["breakdown"].update(office_fee=219_999),
        lambda s: s.update(
            signature=b64url_encode(bytes([b64url_decode(s["signature"])[0] ^ 1]) + b64url_decode(s["signature"])[1:])
        ),
    ],
)
def test_any_alteration_is_detected(keyring: Keyring, signed: dict, alter) -> None:
    altered = copy.deepcopy(signed)
    alter(altered)

    result = published(keyring).verify(altered)

    assert result.verdict is Verdict.ALTERED
    assert not result.ok and not result.signature_valid
    assert result.key_id == "k-20260101-d3m0"


def test_a_receipt_claiming_another_key_id_is_not_genuine(keyring: Keyring, signed: dict) -> None:
    relabelled = copy.deepcopy(signed)
    relabelled["receipt"]["key_id"] = "k-20990101-ffff"

    assert published(keyring).verify(relabelled).verdict is Verdict.UNKNOWN_KEY


def test_a_signature_by_a_key_outside_its_published_validity_is_flagged(signed: dict) -> None:
    key = seeded_key("demo", "k-20260101-d3m0")
    narrower = VerifyingKeyring(
        [VerifyingKey(key.key_id, key.private_key.public_key(), valid_from=ISSUED_AT + timedelta(days=1))]
    )

    result = narrower.verify(signed)

    assert result.verdict is Verdict.KEY_NOT_VALID_AT_ISSUE
    assert result.signature_valid and result.key_valid_at_issue is False


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: [s],
        lambda s: {**s, "extra": 1},
        lambda s: {"receipt": s["receipt"]},
        lambda s: {**s, "signature": s["signature"] + "=="},
        lambda s: {**s, "receipt": {**s["receipt"], "issued_at": "yesterday"}},
        lambda s: {**s, "receipt": {k: v for k, v in s["receipt"].items() if k != "key_id"}},
    ],
)
def test_malformed_receipts_are_reported_not_raised(keyring: Keyring, signed: dict, mangle) -> None:
    assert keyring.verify(mangle(copy.deepcopy(signed))).verdict is Verdict.MALFORMED


def test_newest_key_signs_during_an_overlap_and_the_old_one_keeps_verifying() -> None:
    old = seeded_key("old", "k-20260101-0001", valid_from=JAN, valid_to=JUL)
    new = seeded_key("new", "k-20260601-0002", valid_from=JUN)
    keyring = Keyring([old, new])

    assert keyring.signer_at(JAN + timedelta(days=30)) is old
    assert keyring.signer_at(JUN + timedelta(days=5)) is new  # both valid: the newest wins
    assert keyring.signer_at(JUL + timedelta(days=5)) is new
    with pytest.raises(NoSigningKeyError):
        keyring.signer_at(JAN - timedelta(microseconds=1))

    march = issue_receipt(receipt_input(issued_at=datetime(2026, 3, 1, tzinfo=UTC)), keyring).signed
    august = issue_receipt(receipt_input(issued_at=datetime(2026, 8, 1, tzinfo=UTC)), keyring).signed
    public = published(keyring)
    assert (march["receipt"]["key_id"], public.verify(march).ok) == (old.key_id, True)
    assert (august["receipt"]["key_id"], public.verify(august).ok) == (new.key_id, True)


def test_validity_bounds_are_half_open() -> None:
    key = seeded_key("k", "k-1", valid_from=JAN, valid_to=JUN)

    assert key.covers(JAN) and key.covers(JUN - timedelta(microseconds=1))
    assert not key.covers(JUN) and not key.covers(JAN - timedelta(microseconds=1))
    with pytest.raises(ValueError):
        seeded_key("k", "k-2", valid_from=JUN, valid_to=JAN)
    with pytest.raises(ValueError):
        seeded_key("k", "k-3", valid_from=datetime(2026, 1, 1))


def test_signing_speed(keyring: Keyring, capsys: pytest.CaptureFixture[str]) -> None:
    document = build_receipt(receipt_input())
    inp = receipt_input()
    rounds = 2000

    started = time.perf_counter()
    for _ in range(rounds):
        keyring.sign(document)
    sign_us = (time.perf_counter() - started) / rounds * 1e6
    started = time.perf_counter()
    for _ in range(rounds):
        issue_receipt(inp, keyring)
    issue_us = (time.perf_counter() - started) / rounds * 1e6

    assert keyring.verify(keyring.sign(document)).ok
    with capsys.disabled():
        print(
            f"\nreceipt signing: {sign_us:.1f} µs per receipt (canonical form + Ed25519); "
            f"build + sign + chain hash: {issue_us:.1f} µs"
        )
