"""The pure parts: the file formats, the simulator's daily files, Tehran days and the report's totals."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.core.jalali import parse_day
from gateway.core.settlement import build_settlement_rows
from gateway.core.tariffs import Charged, ChargedExtra
from gateway.reconciliation.report import Kind, match_scope, summarise
from psp_adapters.daily_files import COLUMNS, FileKind, FileRejected, header_line, kind_of_header
from simulators.psp.daily_files import Adjustment, settlement_file, terminal_feed

AGENCY = {"iban": "IR560150679290810033907579", "amount": 800_000, "payment_id": "220012345678902"}
OFFICE = {"iban": "IR090150161461003307666193", "amount": 200_000, "payment_id": "0"}


def entry(rrn: str | None, state: str, created_at: str, rows=(AGENCY, OFFICE), **fields) -> dict:
    return {
        "terminal_id": "10000001",
        "merchant_id": "000000110000001",
        "stan": "000042",
        "transmitted": "0304083000",
        "amount": sum(row["amount"] for row in rows),
        "reference": "chg-1",
        "settlement_rows": list(rows),
        "state": state,
        "response_code": "00" if rrn else "51",
        "rrn": rrn,
        "auth_code": None,
        "masked_pan": "603799******0011",
        "created_at": created_at,
        **fields,
    }


def lines(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# 2025-03-04 in Tehran runs from 2025-03-03T20:30Z to 2025-03-04T20:30Z.
ENTRIES = [
    entry("500001000001", "verified", "2025-03-03T20:30:00.000+00:00"),
    entry("500001000002", "settled", "2025-03-04T20:29:59.999+00:00"),
    entry(None, "declined", "2025-03-04T10:00:00.000+00:00"),
    entry("500001000003", "reversed", "2025-03-04T10:00:01.000+00:00"),
    entry("500001000004", "verified", "2025-03-04T20:30:00.000+00:00"),  # the next Tehran day
    entry("500001000005", "verified", "2025-03-04T11:00:00.000+00:00", rows=()),
]


def test_the_settlement_file_settles_the_days_verified_purchases_row_by_row():
    text = settlement_file("psp-mellat", ENTRIES, date(2025, 3, 4))
    assert kind_of_header(text.splitlines()[0]) is FileKind.SETTLEMENT
    settled = lines(text)
    assert [(line["rrn"], line["iban"], line["amount"], line["payment_id"]) for line in settled] == [
        (rrn, row["iban"], str(row["amount"]), row["payment_id"])
        for rrn in ("500001000001", "500001000002")
        for row in (AGENCY, OFFICE)
    ]
    assert {line["settlement_date"] for line in settled} == {"2025-03-05"}
    assert settled[0]["transaction_time"] == "2025-03-03T20:30:00.000Z"
    only_settled = lines(settlement_file("psp-mellat", ENTRIES, date(2025, 3, 4), settled_only=True))
    assert {line["rrn"] for line in only_settled} == {"500001000002"}


def test_a_refund_takes_every_row_back_on_the_day_it_was_instructed_under_its_own_rrn():
    # Bought on 2025-03-01, refunded on 2025-03-04 (Tehran): only the refund is in the 2025-03-04 file.
    refund = {"rrn": "500001000009", "at": "2025-03-04T09:00:00.000+00:00"}
    bought = entry("500001000008", "verified", "2025-03-01T09:00:00.000+00:00", refund=refund)

    refund_day = lines(settlement_file("psp-mellat", [bought], date(2025, 3, 4)))
    purchase_day = lines(settlement_file("psp-mellat", [bought], date(2025, 3, 1)))
    omitted = lines(
        settlement_file("psp-mellat", [bought], date(2025, 3, 4), adjustments=[Adjustment("500001000009", omit=True)])
    )

    assert [(line["rrn"], line["iban"], int(line["amount"]), line["stan"]) for line in refund_day] == [
        ("500001000009", AGENCY["iban"], -AGENCY["amount"], "000042"),
        ("500001000009", OFFICE["iban"], -OFFICE["amount"], "000042"),
    ]
    assert {line["transaction_time"] for line in refund_day} == {"2025-03-04T09:00:00.000Z"}
    assert {line["rrn"] for line in purchase_day} == {"500001000008"}
    assert omitted == []


def test_adjustments_get_one_row_or_all_rows_of_a_purchase_wrong():
    adjusted = lines(
        settlement_file(
            "psp-mellat",
            ENTRIES,
            date(2025, 3, 4),
            adjustments=[
                Adjustment("500001000001", row=0, amount=799_000),
                Adjustment("500001000001", row=1, iban=AGENCY["iban"]),
                Adjustment("500001000002", settlement_date=date(2025, 3, 9)),
                Adjustment("500001000002", row=1, omit=True),
            ],
        )
    )
    assert [(line["rrn"], line["amount"], line["iban"], line["settlement_date"]) for line in adjusted] == [
        ("500001000001", "799000", AGENCY["iban"], "2025-03-05"),
        ("500001000001", "200000", AGENCY["iban"], "2025-03-05"),
        ("500001000002", "800000", AGENCY["iban"], "2025-03-09"),
    ]


def test_the_terminal_feed_lists_every_purchase_of_the_day_in_its_state():
    text = terminal_feed("psp-mellat", ENTRIES, date(2025, 3, 4))
    assert kind_of_header(text.splitlines()[0]) is FileKind.TERMINAL_FEED
    feed = lines(text)
    assert [(line["rrn"], line["status"]) for line in feed] == [
        ("500001000001", "verified"),
        ("500001000002", "settled"),
        ("", "declined"),
        ("500001000003", "reversed"),
        ("500001000005", "verified"),
    ]
    assert {line["business_date"] for line in feed} == {"2025-03-04"}


@pytest.mark.parametrize(
    "first_line",
    [
        header_line(FileKind.SETTLEMENT) + "\r\n",
        "\ufeff" + header_line(FileKind.SETTLEMENT),
        " , ".join(COLUMNS[FileKind.SETTLEMENT]),
    ],
)
def test_a_settlement_header_is_known_with_a_bom_crlf_or_spaces(first_line):
    assert kind_of_header(first_line) is FileKind.SETTLEMENT


@pytest.mark.parametrize("first_line", ["", "psp_id,settlement_date,iban", header_line(FileKind.SETTLEMENT) + ",x"])
def test_any_other_first_line_is_rejected_on_line_1(first_line):
    with pytest.raises(FileRejected) as rejected:
        kind_of_header(first_line)
    assert rejected.value.line == 1


def test_a_day_is_tehran_midnight_to_midnight_in_utc():
    day = parse_day("۲۰۲۵-۰۳-۰۴")
    assert (day.day, day.start, day.end) == (
        date(2025, 3, 4),
        datetime(2025, 3, 3, 20, 30, tzinfo=UTC),
        datetime(2025, 3, 4, 20, 30, tzinfo=UTC),
    )
    assert day.jalali == "1403/12/14"
    scope = match_scope(day)
    assert scope.day == (day.start, day.end) and scope.later == (day.end, day.end + timedelta(days=1))
    assert scope.psp_rows == (day.start - timedelta(days=1), day.end) and scope.last_on_time == date(2025, 3, 5)
    for text in ("2025-02-30", "2025/03/04", "04-03-2025", "2025-3-4", "0010-01-01", "9999-12-31"):
        with pytest.raises(ValueError):
            parse_day(text)


def test_totals_balance_and_group_per_psp_and_per_agency():
    # (psp, agency, kind, rows, collected, settled, returned)
    raw = [
        ("psp-a", "police", Kind.MATCHED, 3, 900, 900, 0),
        ("psp-a", None, Kind.MISSING_AT_GATEWAY, 1, 0, 150, 0),
        ("psp-b", "police", Kind.AMOUNT_MISMATCH, 1, 500, 400, 0),
        ("psp-b", None, Kind.MISSING_AT_PSP, 2, 70, 0, 0),
        ("psp-b", "police", Kind.RETURNED, 2, 300, 0, 300),
    ]
    names = ("psp_id", "agency_id", "kind", "rows", "collected", "settled", "returned")

    report = summarise(dict(zip(names, row, strict=True)) for row in raw)
    totals = report["totals"]
    assert (totals["rows"], totals["collected"], totals["settled"], totals["returned"]) == (9, 1770, 1450, 300)
    assert totals["collected"] == totals["settled"] + totals["returned"] + sum(
        k["difference"] for k in totals["by_kind"].values()
    )
    assert totals["by_kind"]["missing_at_gateway"]["difference"] == -150
    assert totals["by_kind"]["returned"] == {
        "rows": 2,
        "collected": 300,
        "settled": 0,
        "returned": 300,
        "difference": 0,
    }
    assert totals["by_kind"]["settled_late"] == {
        "rows": 0,
        "collected": 0,
        "settled": 0,
        "returned": 0,
        "difference": 0,
    }
    assert [(g["psp_id"], g["difference"]) for g in report["by_psp"]] == [("psp-a", -150), ("psp-b", 170)]
    assert [(g["agency_id"], g["collected"], g["settled"]) for g in report["by_agency"]] == [
        ("police", 1700, 1300),
        (None, 70, 150),
    ]


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.lists(st.integers(0, 10**8), max_size=6))
def test_a_charge_never_has_two_settlement_rows_with_one_payment_identifier(government, office, extras):
    # Reconciliation pairs a charge's rows with the PSP's by payment identifier, one to one.
    assume(government + office + sum(extras) > 0)
    charged = Charged(
        "T-1",
        "1101",
        1,
        government + office + sum(extras),
        government,
        office,
        tuple(ChargedExtra(f"x{i}", "مورد", 1, amount) for i, amount in enumerate(extras)),
    )
    rows = build_settlement_rows(charged, AGENCY["iban"], AGENCY["payment_id"], OFFICE["iban"], row_limit=10)
    assert len({row.payment_id for row in rows}) == len(rows)
    assert sum(row.amount for row in rows) == charged.total
