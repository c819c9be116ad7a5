from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from stdnum import damm

from gateway.core.jalali import TEHRAN
from receipts.model import ReceiptInputError, build_receipt, field_value, parse_timestamp
from tests.receipts.factory import receipt_input

REGULATION_ORDER = [
    ("service_name", "نام خدمت"),
    ("recipient_name", "نام خدمت‌گیرنده"),
    ("tracking_code", "شماره رهگیری"),
    ("issued_at", "تاریخ و زمان ارایه خدمت"),
    ("amount", "مبلغ اخذ شده"),
    ("licence_holder", "نام دارنده پروانه"),
    ("licence_number", "شماره پروانه"),
    ("operator_name", "متصدی ارایه‌کننده خدمت"),
    ("office_address", "نشانی دفتر"),
]


def test_document_carries_the_nine_required_fields_in_the_regulations_order() -> None:
    document = build_receipt(receipt_input(seq=7, prev_hash="ab" * 32))

    assert [(field["key"], field["label"]) for field in document["fields"]] == REGULATION_ORDER
    assert all(field["value"] not in ("", None) for field in document["fields"])
    assert field_value(document, "amount") == 1_250_000
    tracking_code = field_value(document, "tracking_code")
    assert tracking_code == document["tracking_code"]
    assert tracking_code[:17] == "10203040" + "000000007" and damm.is_valid(tracking_code)
    assert document["seq"] == 7 and document["office_code"] == "10203040"
    assert document["prev_hash"] == "ab" * 32
    assert document["payment"] == {
        "psp_id": "mellat",
        "terminal_id": "10000001",
        "rrn": "601234567890",
        "stan": "123456",
        "masked_pan": "603799******1234",
    }
    assert "key_id" not in document  # the signer adds it


def test_issued_at_is_written_in_utc_whatever_zone_it_arrives_in() -> None:
    tehran_wall_clock = datetime(2026, 11, 23, 11, 45, 0, 123456, tzinfo=TEHRAN)

    document = build_receipt(receipt_input(issued_at=tehran_wall_clock))

    assert document["issued_at"] == "2026-11-23T08:15:00.123456Z"
    assert field_value(document, "issued_at") == document["issued_at"]
    assert parse_timestamp(document["issued_at"]) == tehran_wall_clock


def test_persian_text_is_normalised_before_it_is_signed() -> None:
    document = build_receipt(
        receipt_input(
            recipient_name="  علي   كريمي ",  # Arabic yeh and kaf, stray spaces
            licence_number="۴۵۱۲/پ",  # Persian digits
            breakdown={
                "government_share": 1_000_000,
                "office_fee": 220_000,
                "extras": [{"code": "scan_page", "name": "اسكن صفحه", "quantity": 3, "amount": 30_000}],
            },
        )
    )

    assert field_value(document, "recipient_name") == "علی کریمی"
    assert field_value(document, "licence_number") == "4512/پ"
    assert document["breakdown"]["extras"][0]["name"] == "اسکن صفحه"


def test_breakdown_keeps_only_its_parts() -> None:
    document = build_receipt(
        receipt_input(
            breakdown={
                "approval_reference": "1403-07",
                "total": 1_250_000,
                "government_share": 1_000_000,
                "office_fee": 250_000,
                "extras": [],
            }
        )
    )

    assert document["breakdown"] == {"government_share": 1_000_000, "office_fee": 250_000, "extras": []}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"office_code": "1020304"}, "office_code"),
        ({"seq": 0}, "seq"),
        ({"tracking_code": "102030400000000020"}, "tracking_code"),
        ({"issued_at": datetime(2026, 11, 23, 8, 15)}, "issued_at"),
        ({"amount": 1_250_000.0}, "amount"),
        ({"amount": True}, "amount"),
        ({"masked_pan": "6037991234561234"}, "masked_pan"),
        ({"recipient_name": " \u200c "}, "recipient_name"),
        ({"prev_hash": "AB" * 32}, "prev_hash"),
        ({"rrn": ""}, "rrn"),
        ({"amount": 1_250_001}, "breakdown"),
        (
            {
                "breakdown": {
                    "government_share": 1_000_000,
                    "office_fee": 250_000,
                    "extras": [{"code": "scan_page", "name": "اسکن", "quantity": 0, "amount": 0}],
                }
            },
            "breakdown.extras[0].quantity",
        ),
        ({"breakdown": {"government_share": -1, "office_fee": 1_250_001, "extras": []}}, "breakdown.government_share"),
    ],
)
def test_invalid_input_is_refused_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ReceiptInputError) as raised:
        build_receipt(dataclasses.replace(receipt_input(), **changes))
    assert raised.value.field == field


def test_parse_timestamp_requires_an_offset() -> None:
    assert parse_timestamp("2026-11-23T11:45:00+03:30") == datetime(2026, 11, 23, 8, 15, tzinfo=UTC)
    assert parse_timestamp("2026-11-23T08:15:00Z").utcoffset() == timedelta(0)
    with pytest.raises(ValueError):
        parse_timestamp("2026-11-23T08:15:00")
    with pytest.raises(ValueError):
        parse_timestamp(1795000000)
