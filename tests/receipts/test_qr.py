from __future__ import annotations

import struct
import subprocess
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import segno

from receipts.canonical import b64url_decode, b64url_encode
from receipts.chain import issue_receipt, receipt_hash
from receipts.qr import (
    MAX_QR_BASE_URL,
    MAX_QR_VERSION,
    QR_MASK,
    QrContent,
    bare_payload,
    make_qr_payload,
    qr_modules,
    qr_png,
    qr_svg,
    qr_url,
    verify_qr_payload,
)
from receipts.signing import Keyring, Verdict, VerifyingKeyring
from tests.receipts.factory import receipt_input, seeded_key, signed_chain


@pytest.fixture(scope="module")
def public(keyring: Keyring) -> VerifyingKeyring:
    return VerifyingKeyring.from_public_keys(orjson.loads(orjson.dumps(keyring.public_keys())))


def test_payload_verifies_offline_and_describes_its_receipt(
    qr_payload: str, signed: dict, public: VerifyingKeyring
) -> None:
    checked = verify_qr_payload(qr_payload, public)

    assert checked.ok and checked.result.key_id == "k-20260101-d3m0"
    assert checked.content == QrContent(
        office_code="10203040",
        seq=1,
        issued_at=datetime(2026, 11, 23, 8, 15, tzinfo=UTC),
        amount=1_250_000,
        receipt_hash_prefix=receipt_hash(signed)[:32],
        key_id="k-20260101-d3m0",
    )
    assert checked.content.describes(signed)


def test_payload_is_compact_ascii_for_a_small_qr_code(qr_payload: str) -> None:
    assert qr_payload.isascii() and qr_payload.startswith("PK1.")
    assert len(qr_payload) <= 170
    symbol = segno.make_qr(qr_payload, error="m")
    assert symbol.version <= 9  # 53 modules: about 0.7 mm each in 42 mm of an 80 mm slip


def test_the_printed_url_stays_at_version_10_level_m_and_verifies_like_the_bare_payload(
    printed_qr: str, qr_payload: str, public: VerifyingKeyring
) -> None:
    symbol = segno.make_qr(printed_qr, error="m")
    assert symbol.version <= MAX_QR_VERSION  # 57 modules: about 0.65 mm each in 42 mm of an 80 mm slip
    assert bare_payload(printed_qr) == bare_payload(qr_payload) == qr_payload
    assert bare_payload(f" https://pk.example/q/{qr_payload}#seen ") == qr_payload
    assert verify_qr_payload(printed_qr, public).ok
    with pytest.raises(ValueError, match="too dense"):
        qr_url("https://" + "p" * MAX_QR_BASE_URL, qr_payload)


def test_payload_of_another_receipt_does_not_describe_this_one(
    keyring: Keyring, signed: dict, public: VerifyingKeyring
) -> None:
    other = issue_receipt(receipt_input(recipient_name="سارا کاظمی"), keyring).signed  # same numbers, other name

    checked = verify_qr_payload(make_qr_payload(other, keyring), public)

    assert checked.ok
    assert not checked.content.describes(signed)


def test_changed_fields_break_the_signature(qr_payload: str, public: VerifyingKeyring) -> None:
    prefix, fields_text, signature = qr_payload.split(".")
    fields = bytearray(b64url_decode(fields_text))
    struct.pack_into(">Q", fields, 12, 125_000)  # the amount
    forged = f"{prefix}.{b64url_encode(bytes(fields))}.{signature}"

    checked = verify_qr_payload(forged, public)

    assert checked.result.verdict is Verdict.ALTERED
    assert checked.content.amount == 125_000 and not checked.ok


@pytest.mark.parametrize("payload", ["", "hello", "PK2.AAAA.AAAA", "PK1.AAAA.AAAA", "PK1..", "PK1.!!!.AAAA"])
def test_malformed_payloads_are_reported(payload: str, public: VerifyingKeyring) -> None:
    checked = verify_qr_payload(payload, public)

    assert checked.result.verdict is Verdict.MALFORMED and checked.content is None


def test_whole_second_issue_time_still_falls_inside_the_key_validity() -> None:
    # The key starts half a second into the second the receipt is issued in; the QR only knows the second.
    starts = datetime(2026, 11, 23, 8, 0, 0, 500_000, tzinfo=UTC)
    keyring = Keyring([seeded_key("fresh", "k-fresh", valid_from=starts)])
    signed = issue_receipt(receipt_input(issued_at=starts + timedelta(milliseconds=200)), keyring).signed

    checked = verify_qr_payload(make_qr_payload(signed, keyring), keyring.verifying)

    assert checked.ok
    assert checked.content.issued_at == datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)


def test_images(qr_payload: str) -> None:
    assert qr_png(qr_payload).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in qr_svg(qr_payload)
    modules = qr_modules(qr_payload)
    size = segno.make_qr(qr_payload, error="m").symbol_size(border=4)[0]
    assert len(modules) == size and all(len(row) == size for row in modules)
    assert any(any(row) for row in modules) and not any(modules[0])  # the quiet zone is light


def test_symbols_with_the_fixed_mask_scan_back(keyring: Keyring, tmp_path) -> None:
    payloads = [make_qr_payload(signed, keyring) for signed in signed_chain(keyring, 20)]
    images = []
    for index, payload in enumerate(payloads):
        fixed = segno.make_qr(payload, error="m", mask=QR_MASK)
        assert qr_modules(payload) == [[bool(module) for module in row] for row in fixed.matrix_iter(border=4)]
        images.append(tmp_path / f"qr-{index}.png")
        images[-1].write_bytes(qr_png(payload, scale=3))

    scanned = (
        subprocess.run(["zbarimg", "-q", "--raw", *map(str, images)], capture_output=True, check=True, timeout=60)
        .stdout.decode()
        .splitlines()
    )

    assert scanned == payloads
