"""Realistic receipt inputs and signed chains for the receipt tests and the demo images."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.core.identifiers import make_tracking_code
from gateway.core.identity import IdentityCheck, IdentityPolicy, InquiryResult, InquiryService, Verdict
from receipts.chain import genesis_hash, issue_receipt
from receipts.model import ReceiptInput
from receipts.signing import Keyring, SigningKey

OFFICE = "10203040"
ISSUED_AT = datetime(2026, 11, 23, 8, 15, 0, 123456, tzinfo=UTC)  # 1405/09/02 11:45 in Tehran
KEY_VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)


def seeded_key(
    seed: str, key_id: str, valid_from: datetime = KEY_VALID_FROM, valid_to: datetime | None = None
) -> SigningKey:
    """A key derived from a seed, so signatures (and the demo images) are reproducible."""
    private_key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())
    return SigningKey(key_id, private_key, valid_from, valid_to)


def demo_keyring() -> Keyring:
    return Keyring([seeded_key("demo", "k-20260101-d3m0")])


def receipt_input(
    seq: int = 1, office_code: str = OFFICE, issued_at: datetime = ISSUED_AT, prev_hash: str | None = None, **changes
) -> ReceiptInput:
    base = ReceiptInput(
        office_code=office_code,
        seq=seq,
        tracking_code=make_tracking_code(office_code, seq),
        issued_at=issued_at,
        service_code="1101",
        service_name="صدور گذرنامه",
        recipient_name="مریم احمدی",
        amount=1_250_000,
        licence_holder="رضا محمدی",
        licence_number="۴۵۱۲/پ",
        operator_name="زهرا حسینی",
        operator_id="op-17",
        office_address="تهران، خیابان ولیعصر، بالاتر از میدان ونک، کوچه نیلوفر، پلاک ۱۲، طبقه همکف",
        terminal_id="10000001",
        psp_id="mellat",
        rrn="601234567890",
        stan="123456",
        masked_pan="603799******1234",
        tariff_reference="مصوبه جلسه ۳۱۲ کمیسیون تنظیم مقررات",
        breakdown={
            "government_share": 1_000_000,
            "office_fee": 220_000,
            "extras": [{"code": "scan_page", "name": "اسکن صفحه", "quantity": 3, "amount": 30_000}],
        },
        charge_id=f"ch-{office_code}-{seq}",
        prev_hash=prev_hash or genesis_hash(office_code),
    )
    return dataclasses.replace(base, **changes)


def signed_chain(
    keyring: Keyring,
    count: int,
    office_code: str = OFFICE,
    start: datetime = ISSUED_AT,
    step: timedelta = timedelta(minutes=7),
) -> list[dict]:
    """`count` consecutive signed receipts of one office, correctly chained from its genesis."""
    chain: list[dict] = []
    prev_hash = genesis_hash(office_code)
    for seq in range(1, count + 1):
        issued = issue_receipt(
            receipt_input(
                seq,
                office_code,
                start + (seq - 1) * step,
                prev_hash,
                amount=1_250_000 + seq * 1_000,
                breakdown={"government_share": 1_000_000, "office_fee": 250_000 + seq * 1_000, "extras": []},
            ),
            keyring,
        )
        chain.append(issued.signed)
        prev_hash = issued.hash
    return chain


def authentication(policy: IdentityPolicy, *verdicts: tuple[InquiryService, Verdict]) -> str:
    """The signed authentication line of a charge whose inquiry gave these verdicts."""
    results = tuple(InquiryResult(service, verdict, "track") for service, verdict in verdicts)
    return IdentityCheck(policy, results, ISSUED_AT).receipt_value()


# The longest authentication line: an advisory charge that neither service confirmed.
LONGEST_AUTHENTICATION = authentication(
    IdentityPolicy.ADVISORY,
    (InquiryService.CIVIL_REGISTRY, Verdict.MISMATCHED),
    (InquiryService.SHAHKAR, Verdict.UNAVAILABLE),
)


def _words(word: str, length: int) -> str:
    """`word` repeated, separated by spaces, to exactly `length` characters."""
    text = " ".join([word] * length)[:length]
    return text[:-1] + word[0] if text.endswith(" ") else text


def longest_receipt_input(extras: int = 20, **changes) -> ReceiptInput:
    """The longest values the gateway accepts in every field: the recipient name the API takes (200), the
    registry's longest names, address and licence number (`gateway.core.registry`), the tariff's longest extra
    names (200) and reference (64), the API's largest amount, as many extras as asked (the API takes 20) and the
    longest authentication line."""
    listed = [
        {"code": f"extra_{n}", "name": _words("رونوشت‌برابر‌اصل (برگه)", 200), "quantity": 1000, "amount": 10**11}
        for n in range(extras)
    ]
    amount = 10**13
    return receipt_input(
        service_name=_words("صدور گواهینامه رانندگی", 200),
        recipient_name=_words("محمدحسین میرزاعبدالوهاب‌زاده (Mirza)", 200),
        licence_holder=_words("عبدالرحیم", 200),
        licence_number=_words("پ-۴۵۱۲", 64),
        operator_name=_words("سیدمحمدرضا", 200),
        office_address=_words("تهران، خیابان ولیعصر (کوچه ۱۲)", 200),
        tariff_reference="CRA-COM-" + "1" * 56,
        amount=amount,
        breakdown={"government_share": amount - (extras + 1) * 10**11, "office_fee": 10**11, "extras": listed},
        **({"authentication": LONGEST_AUTHENTICATION} | changes),
    )
