"""The comparison behind `pishkhan check-conservation`, on hand-made ledgers and charges, and PSP transaction files."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from gateway.conservation.check import KINDS, GatewayCharge, compare, parse_pairs, read_transaction_file

ROWS = [
    {"iban": "IR960560877893287921742180", "amount": 420_000, "payment_id": "110012345678901"},
    {"iban": "IR090150161461003307666193", "amount": 280_000, "payment_id": "0"},
]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def charge(charge_id: str, status: str = "completed", **changes) -> GatewayCharge:
    fields = {
        "id": charge_id,
        "psp_id": "psp-mellat",
        "terminal_id": "10000001",
        "stan": "000101",
        "amount": 700_000,
        "status": status,
        "settlement_rows": ROWS,
        "settled": False,
        "receipts": int(status == "completed"),
        "sms_messages": int(status == "completed"),
        "verify_deadline": T0 + timedelta(minutes=20),
    }
    return GatewayCharge(**{**fields, **changes})


def entry(reference: str, state: str = "verified", **changes) -> dict:
    fields = {
        "terminal_id": "10000001",
        "merchant_id": "000000110000001",
        "stan": "000101",
        "transmitted": "0301080000",
        "amount": 700_000,
        "reference": reference,
        "settlement_rows": ROWS,
        "state": state,
        "response_code": "00",
        "rrn": "506008000001",
        "created_at": T0.isoformat(),
    }
    return {**fields, **changes}


def kinds(ledger: list[dict], charges: list[GatewayCharge], **options) -> list[tuple[str, str | None]]:
    return [(d.kind, d.charge_id) for d in compare({"psp-mellat": ledger}, charges, **options)]


def test_matching_books_are_clean():
    ledger = [entry("c1"), entry("c2", "reversed"), entry("c3", "declined", response_code="51"), entry("c4", "settled")]
    charges = [
        charge("c1"),
        charge("c2", "reversed"),
        charge("c3", "declined"),
        charge("c4", settled=True),
        charge("c5", "expired"),
    ]  # never reached the PSP
    assert kinds(ledger, charges) == []


@pytest.mark.parametrize(
    ("ledger", "charges", "expected"),
    [
        ([entry("c1")], [charge("c1", "reversed")], [("money_without_receipt", "c1")]),
        (
            [entry("c1", "settled")],
            [charge("c1", "authorized")],
            [("settled_without_receipt", "c1"), ("unresolved_charge", "c1")],
        ),
        ([entry("c1", "reversed")], [charge("c1")], [("receipt_without_money", "c1")]),
        ([], [charge("c1")], [("receipt_without_money", "c1")]),
        ([entry("c1", "approved")], [charge("c1")], [("receipt_without_money", "c1"), ("unresolved_at_psp", "c1")]),
        ([entry("c1"), entry("c1", stan="000102")], [charge("c1")], [("charged_twice", "c1")]),
        ([entry("c1")], [charge("c1", receipts=2)], [("receipt_count", "c1")]),
        ([entry("c1", "reversed")], [charge("c1", "reversed", receipts=1)], [("receipt_count", "c1")]),
        ([entry("c1")], [charge("c1", sms_messages=0)], [("sms_count", "c1")]),
        ([entry("c1")], [charge("c1", settled=True)], [("settle_mismatch", "c1")]),
        ([entry("c1", amount=750_000)], [charge("c1")], [("amount_mismatch", "c1")]),
        ([entry("c1", settlement_rows=ROWS[:1])], [charge("c1")], [("settlement_rows_mismatch", "c1")]),
        ([entry("c1", "pending")], [charge("c1", "sent")], [("unresolved_at_psp", "c1"), ("unresolved_charge", "c1")]),
        ([entry("stranger")], [], [("money_without_charge", None)]),
        ([entry("stranger", "reversed")], [], []),
    ],
)
def test_each_difference_is_reported(ledger, charges, expected):
    assert kinds(ledger, charges) == expected
    assert {kind for kind, _ in expected} <= KINDS.keys()


def test_a_charge_of_another_psp_is_not_matched_to_this_ledger():
    assert kinds([entry("c1")], [charge("c1", psp_id="psp-saman")]) == [("money_without_charge", None)]


def test_since_leaves_out_older_strangers_but_never_the_window_charges_own_entries():
    old = (T0 - timedelta(hours=1)).isoformat()
    ledger = [entry("older-stranger", created_at=old), entry("c1", "reversed", created_at=old)]
    assert kinds(ledger, [charge("c1")], since=T0) == [("receipt_without_money", "c1")]


def test_a_transaction_file_of_ledger_events_keeps_the_last_state_of_each_purchase(tmp_path):
    path = tmp_path / "mellat.jsonl"
    events = [
        {"psp_id": "psp-mellat", "event": "pending", "entry": entry("c1", "pending")},
        {"psp_id": "psp-mellat", "event": "approved", "entry": entry("c1", "approved")},
        {"psp_id": "psp-mellat", "event": "reset"},
        {"psp_id": "psp-mellat", "event": "verified", "entry": entry("c1", "verified")},
        {"psp_id": "psp-saman", "event": "reversed", "entry": entry("c9", "reversed", terminal_id="10000002")},
    ]
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events) + b"\n")
    ledgers = read_transaction_file(path)
    assert {psp: [(e["reference"], e["state"]) for e in entries] for psp, entries in ledgers.items()} == {
        "psp-mellat": [("c1", "verified")],
        "psp-saman": [("c9", "reversed")],
    }


def test_a_file_of_bare_entries_needs_its_psp(tmp_path):
    path = tmp_path / "entries.jsonl"
    path.write_bytes(orjson.dumps(entry("c1")) + b"\n")
    with pytest.raises(ValueError, match="PSP_ID=PATH"):
        read_transaction_file(path)
    assert [e["reference"] for e in read_transaction_file(path, "psp-sadad")["psp-sadad"]] == ["c1"]


def test_psp_pairs_come_from_repeated_options_or_one_list():
    assert parse_pairs(["psp-a=http://h:1,psp-b=http://h:2", "psp-c=http://h:3"], "url") == {
        "psp-a": "http://h:1",
        "psp-b": "http://h:2",
        "psp-c": "http://h:3",
    }
    assert parse_pairs([""], "url") == {}
    with pytest.raises(ValueError):
        parse_pairs(["http://h:1"], "url")


def voided(charge_id: str, void_status: str = "reversed", **changes) -> GatewayCharge:
    cancelled = int(void_status == "reversed")
    fields = {"cancellation_receipts": cancelled, "cancellation_sms_messages": cancelled}
    return charge(charge_id, void_status=void_status, **{**fields, **changes})


def test_a_voided_charge_whose_money_went_back_is_clean():
    ledger = [entry("v1", "reversed"), entry("v2", "verified"), entry("v3", "reversed")]
    charges = [voided("v1"), voided("v2", "refused"), voided("v3", "sent")]
    assert kinds(ledger, charges) == [("unresolved_void", "v3")]


def test_a_void_the_psp_never_applied_is_reported():
    assert kinds([entry("v1", "verified")], [voided("v1")]) == [("void_without_reversal", "v1")]
    assert kinds([entry("v2", "settled")], [voided("v2")]) == [("void_without_reversal", "v2")]


def test_a_reversal_without_a_void_is_still_a_receipt_without_money():
    assert kinds([entry("c1", "reversed")], [charge("c1")]) == [("receipt_without_money", "c1")]
    assert kinds([entry("c2", "reversed")], [voided("c2", "refused")]) == [("receipt_without_money", "c2")]


def test_cancellation_receipts_and_sms_are_counted():
    ledger = [entry("v1", "reversed"), entry("v2", "reversed"), entry("c3", "verified")]
    charges = [
        voided("v1", cancellation_receipts=0),
        voided("v2", cancellation_sms_messages=2),
        charge("c3", cancellation_receipts=1),
    ]
    assert kinds(ledger, charges) == [
        ("cancellation_count", "c3"),
        ("cancellation_count", "v1"),
        ("cancellation_count", "v2"),
    ]


REFUND_AT_PSP = {"rrn": "506008000099", "at": T0.isoformat()}


def refunded(charge_id: str, refund_status: str = "instructed", **changes) -> GatewayCharge:
    receipted = int(refund_status in ("instructed", "settled"))
    fields = {"cancellation_receipts": receipted, "cancellation_sms_messages": receipted}
    return charge(charge_id, refund_status=refund_status, **{**fields, **changes})


def test_a_refunded_charge_the_psp_holds_with_its_refund_is_clean():
    ledger = [entry("r1", refund=REFUND_AT_PSP), entry("r2", "settled", refund=REFUND_AT_PSP), entry("r3")]
    charges = [refunded("r1"), refunded("r2", "settled", settled=True), refunded("r3", "failed")]
    assert kinds(ledger, charges) == []


def test_a_refund_one_side_does_not_know_of_is_reported():
    ledger = [entry("r1"), entry("r2", refund=REFUND_AT_PSP), entry("r3", refund=REFUND_AT_PSP)]
    charges = [refunded("r1"), charge("r2"), refunded("r3", "failed")]
    assert kinds(ledger, charges) == [
        ("refund_not_at_psp", "r1"),
        ("refund_without_record", "r2"),
        ("refund_without_record", "r3"),
    ]


def test_a_refund_under_way_is_unresolved_and_a_refunded_charge_has_one_cancellation():
    ledger = [entry("r1", refund=REFUND_AT_PSP), entry("r2", refund=REFUND_AT_PSP)]
    charges = [refunded("r1", "sent"), refunded("r2", cancellation_sms_messages=0)]
    assert kinds(ledger, charges) == [("cancellation_count", "r2"), ("unresolved_refund", "r1")]
