"""Reconciliation of simulator-produced PSP files against charges made through the gateway: every kind of
discrepancy injected and classified, a clean day, and the off-book transactions of the terminal feed."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

from gateway.reconciliation.report import Kind
from psp_adapters.daily_files import FileKind, header_line
from tests.reconciliation.support import (
    DirectLine,
    charge_cap,
    charge_day,
    daily_file,
    import_file,
    refund_charge,
    void_charge,
)

OFFICE_31110003_IBAN = "IR600560832661663049403269"
ELSEWHERE_IBAN = "IR870170836791601108436469"  # a valid شبا that is no party to these charges


def _row_index(charge: dict, *, agency: bool) -> int:
    return next(i for i, row in enumerate(charge["settlement_rows"]) if (row["payment_id"] != "0") == agency)


async def _report_rows(gateway, key: str, day: str, psp_id: str) -> list[dict]:
    status, body = await gateway.request("GET", f"/v1/reconciliation?date={day}&psp_id={psp_id}&format=csv", key=key)
    assert status == 200
    return list(csv.DictReader(io.StringIO(body.decode())))


def _rows_of(rows: list[dict], rrn: str) -> list[dict]:
    return sorted((row for row in rows if row["rrn"] == rrn), key=lambda row: row["payment_id"] == "0")


def _assert_balanced(group: dict) -> None:
    differences = sum(kind["difference"] for kind in group["by_kind"].values())
    assert group["collected"] == group["settled"] + group["returned"] + differences
    assert group["rows"] == sum(kind["rows"] for kind in group["by_kind"].values())


async def test_every_discrepancy_kind_is_caught_and_classified(
    gateway, keys, psp_hosts, http_session, demo_registry, db, reversal_windows_closed
):
    mellat = psp_hosts["psp-mellat"]
    vanak, kashan = await keys("t:10000001"), await keys("t:10000004")
    clean = await charge_cap(gateway, vanak, "10000001", "op-11", "1101")
    short_paid = await charge_cap(gateway, vanak, "10000001", "op-11", "2101")
    misdirected = await charge_cap(gateway, kashan, "10000004", "op-31", "1101")
    late = await charge_cap(gateway, kashan, "10000004", "op-31", "2102")
    undone = await charge_cap(gateway, vanak, "10000001", "op-11", "1102")
    twice = await charge_cap(gateway, vanak, "10000001", "op-11", "1103")
    voided = await charge_cap(gateway, vanak, "10000001", "op-11", "1101")
    void_paid = await charge_cap(gateway, kashan, "10000004", "op-31", "1101")
    await void_charge(gateway, vanak, voided)
    refunded = await refund_charge(gateway, vanak, await charge_cap(gateway, vanak, "10000001", "op-11", "1104"))
    refund_unpaid = await refund_charge(gateway, vanak, await charge_cap(gateway, vanak, "10000001", "op-11", "2104"))
    line = DirectLine(mellat, "psp-mellat", demo_registry["psps"]["psp-mellat"])
    try:
        await line.reverse(undone, demo_registry["terminals"]["10000001"]["merchant_id"])
        offbook = await line.offbook_purchase(
            "10000004", demo_registry["terminals"]["10000004"]["merchant_id"], 1_500_000, OFFICE_31110003_IBAN
        )
    finally:
        await line.close()
    day = charge_day(clean)
    late_date = (date.fromisoformat(day) + timedelta(days=3)).isoformat()
    shorted = _row_index(short_paid, agency=True)
    settlement = await daily_file(
        http_session,
        mellat,
        "settlement",
        day,
        adjustments=[
            {
                "rrn": short_paid["rrn"],
                "row": shorted,
                "amount": short_paid["settlement_rows"][shorted]["amount"] - 1_000,
            },
            {"rrn": misdirected["rrn"], "row": _row_index(misdirected, agency=False), "iban": ELSEWHERE_IBAN},
            {"rrn": late["rrn"], "settlement_date": late_date},
            {"rrn": refund_unpaid["rrn"], "omit": True},  # the PSP has not taken this refund's rows back yet
        ],
    )
    twice_agency_row = twice["settlement_rows"][_row_index(twice, agency=True)]
    (paid_twice,) = [
        text
        for text in settlement.split(b"\r\n")
        if twice["rrn"].encode() in text and twice_agency_row["payment_id"].encode() in text
    ]
    settlement += paid_twice + b"\r\n"  # the PSP's file pays the agency's row of one charge twice
    feed = await daily_file(http_session, mellat, "terminal_feed", day)
    await void_charge(gateway, kashan, void_paid)  # voided after the PSP wrote the file that pays it

    admin = await keys("admin")
    status, imported = await import_file(gateway, admin, "psp-mellat", "settlement", settlement)
    assert status == 201 and imported["created"] and imported["rows"] == settlement.count(b"\n") - 1
    status, feed_imported = await import_file(gateway, admin, "psp-mellat", "terminal_feed", feed)
    assert status == 201 and feed_imported["offbook_rows"] == 1

    rows = await _report_rows(gateway, await keys("regulator"), day, "psp-mellat")
    assert [row["kind"] for row in _rows_of(rows, clean["rrn"])] == ["matched", "matched"]
    agency_row, office_row = _rows_of(rows, short_paid["rrn"])
    assert (agency_row["kind"], office_row["kind"]) == ("amount_mismatch", "matched")
    assert int(agency_row["collected"]) - int(agency_row["settled"]) == int(agency_row["difference"]) == 1_000
    assert agency_row["agency_id"] == "police" and agency_row["charge_id"] == short_paid["id"]
    agency_row, office_row = _rows_of(rows, misdirected["rrn"])
    assert (agency_row["kind"], office_row["kind"]) == ("matched", "wrong_iban")
    assert (office_row["expected_iban"], office_row["settled_iban"]) == (OFFICE_31110003_IBAN, ELSEWHERE_IBAN)
    assert office_row["agency_id"] == "" and office_row["office_id"] == "31110003"
    assert {row["kind"] for row in _rows_of(rows, late["rrn"])} == {"settled_late"}
    assert {row["settlement_date"] for row in _rows_of(rows, late["rrn"])} == {late_date}
    missing = _rows_of(rows, undone["rrn"])
    assert {row["kind"] for row in missing} == {"missing_at_psp"}
    assert sum(int(row["difference"]) for row in missing) == undone["amount"]
    doubled = _rows_of(rows, twice["rrn"])
    assert sorted(row["kind"] for row in doubled) == ["matched", "matched", "missing_at_gateway"]
    (second_payment,) = [row for row in doubled if row["kind"] == "missing_at_gateway"]
    assert (second_payment["charge_id"], second_payment["charge_status"]) == (twice["id"], "completed")
    assert int(second_payment["difference"]) == -twice_agency_row["amount"]
    returned = _rows_of(rows, voided["rrn"])
    assert {(row["kind"], row["charge_status"], row["difference"]) for row in returned} == {("returned", "voided", "0")}
    assert sum(int(row["returned"]) for row in returned) == voided["amount"]
    paid_anyway = _rows_of(rows, void_paid["rrn"])
    assert {row["kind"] for row in paid_anyway} == {"settled_after_void"}
    assert sum(int(row["difference"]) for row in paid_anyway) == -void_paid["amount"]
    taken_back = _rows_of(rows, refunded["rrn"])
    assert {(row["kind"], row["charge_status"], row["difference"]) for row in taken_back} == {
        ("refunded", "refunded", "0")
    }
    assert sum(int(row["settled"]) for row in taken_back) == -refunded["amount"]
    assert sum(int(row["returned"]) for row in taken_back) == refunded["amount"]
    not_yet = _rows_of(rows, refund_unpaid["rrn"])
    assert {(row["kind"], row["file_id"]) for row in not_yet} == {("refund_pending", "")}
    assert sum(int(row["difference"]) for row in not_yet) == -refund_unpaid["amount"]
    (extra,) = _rows_of(rows, offbook.rrn)
    assert extra["kind"] == "missing_at_gateway" and extra["charge_id"] == "" and extra["office_id"] == "31110003"
    assert (int(extra["collected"]), int(extra["settled"]), int(extra["difference"])) == (0, 1_500_000, -1_500_000)
    injected = {
        (short_paid["rrn"], short_paid["settlement_rows"][shorted]["payment_id"]),
        (misdirected["rrn"], "0"),
        *((late["rrn"], r["payment_id"]) for r in late["settlement_rows"]),
        *((undone["rrn"], r["payment_id"]) for r in undone["settlement_rows"]),
        (offbook.rrn, "0"),
        (twice["rrn"], twice_agency_row["payment_id"]),
        *((voided["rrn"], r["payment_id"]) for r in voided["settlement_rows"]),
        *((void_paid["rrn"], r["payment_id"]) for r in void_paid["settlement_rows"]),
        *((refunded["rrn"], r["payment_id"]) for r in refunded["rows"]),
        *((refund_unpaid["rrn"], r["payment_id"]) for r in refund_unpaid["rows"]),
    }
    assert {(row["rrn"], row["payment_id"]) for row in rows if row["kind"] != "matched"} == injected

    status, report = await gateway.request(
        "GET", f"/v1/reconciliation?date={day}&psp_id=psp-mellat", key=await keys("regulator")
    )
    assert status == 200
    totals = report["totals"]
    _assert_balanced(totals)
    assert totals["difference"] == (
        1_000
        + undone["amount"]
        - 1_500_000
        - twice_agency_row["amount"]
        - void_paid["amount"]
        - refund_unpaid["amount"]
    )
    assert totals["returned"] == voided["amount"] + void_paid["amount"] + refunded["amount"] + refund_unpaid["amount"]
    assert totals["collected"] == sum(int(row["collected"]) for row in rows)
    assert totals["settled"] == sum(int(row["settled"]) for row in rows)
    assert {kind for kind, bucket in totals["by_kind"].items() if bucket["rows"]} == set(Kind)
    for group in report["by_psp"] + report["by_agency"]:
        _assert_balanced(group)
    assert sum(group["collected"] for group in report["by_agency"]) == totals["collected"]
    assert {row["rrn"] for row in report["discrepancies"]["data"]} == {
        short_paid["rrn"],
        misdirected["rrn"],
        late["rrn"],
        undone["rrn"],
        offbook.rrn,
        twice["rrn"],
        void_paid["rrn"],
        refund_unpaid["rrn"],
    }
    (listed_second_payment,) = [
        row
        for row in report["discrepancies"]["data"]
        if row["kind"] == "missing_at_gateway" and row["rrn"] == twice["rrn"]
    ]
    assert (listed_second_payment["charge_id"], listed_second_payment["charge_status"]) == (twice["id"], "completed")
    assert listed_second_payment["tracking_code"] == second_payment["tracking_code"] == twice["tracking_code"]
    # The listed rows and the CSV come from different statements: the listed rows are the CSV's rows that did not
    # match, field for field and in the same order.
    listed = [
        {key: "" if value is None else str(value) for key, value in row.items()}
        for row in report["discrepancies"]["data"]
    ]
    not_matched = [row for row in rows if row["kind"] not in ("matched", "returned", "refunded")]
    assert listed == not_matched[: len(listed)]
    assert report["discrepancies"]["has_more"] == (len(not_matched) > len(listed))

    kept = await db.fetch("SELECT * FROM offbook_transactions WHERE source_file_id = $1", feed_imported["id"])
    assert [(r["rrn"], r["office_id"], r["terminal_id"], r["amount"]) for r in kept] == [
        (offbook.rrn, "31110003", "10000004", 1_500_000)
    ]
    assert kept[0]["masked_pan"].count("*") >= 6


async def test_a_clean_day_reconciles_to_zero_differences(gateway, keys, psp_hosts, http_session):
    vanak, abyaneh = await keys("t:10000002"), await keys("t:10000006")
    charges = [
        await charge_cap(gateway, vanak, "10000002", "op-12", "3101"),
        await charge_cap(gateway, abyaneh, "10000006", "op-51", "1104"),
        await charge_cap(gateway, abyaneh, "10000006", "op-51", "3104"),
    ]
    day = charge_day(charges[0])
    admin = await keys("admin")
    for kind in ("settlement", "terminal_feed"):
        body = await daily_file(http_session, psp_hosts["psp-saman"], kind, day)
        status, imported = await import_file(gateway, admin, "psp-saman", kind, body)
        assert status == 201 and imported["offbook_rows"] == 0

    status, report = await gateway.request(
        "GET", f"/v1/reconciliation?date={day}&psp_id=psp-saman", key=await keys("admin")
    )
    assert status == 200
    totals = report["totals"]
    assert totals["difference"] == 0 and totals["rows"] == totals["by_kind"]["matched"]["rows"] > 0
    assert totals["collected"] == totals["settled"] >= sum(charge["amount"] for charge in charges)
    assert report["discrepancies"] == {"object": "list", "data": [], "has_more": False}
    rows = await _report_rows(gateway, admin, day, "psp-saman")
    for charge in charges:
        mine = _rows_of(rows, charge["rrn"])
        assert [row["kind"] for row in mine] == ["matched"] * len(charge["settlement_rows"])
        assert sorted(int(row["settled"]) for row in mine) == sorted(r["amount"] for r in charge["settlement_rows"])


async def test_only_admins_import_and_agencies_cannot_read_the_report(gateway, keys):
    status, error = await import_file(gateway, await keys("regulator"), "psp-saman", "settlement", b"")
    assert status == 403 and error["error"]["code"] == "role_not_allowed"
    status, error = await gateway.request("GET", "/v1/reconciliation?date=2025-03-04", key=await keys("a:police"))
    assert status == 403
    status, error = await import_file(gateway, await keys("admin"), "psp-nowhere", "settlement", b"")
    assert status == 404
    status, error = await import_file(gateway, await keys("admin"), "psp-saman", "statement", b"")
    assert status == 400 and error["error"]["param"] == "kind"
    status, error = await gateway.request("GET", "/v1/reconciliation?date=1404-13-01", key=await keys("admin"))
    assert status == 400 and error["error"]["param"] == "date"


async def _settled_a_second_before_midnight(
    gateway, keys, rows: list[dict], *, rrn: str, stan: str, terminal_id: str
) -> tuple[list[dict], list[dict]]:
    """Imports psp-mellat's file settling `rows` under the references a second before Tehran midnight starting
    2025-01-02 (2025-01-01T20:30Z); returns the rows of these references in the reports of 2025-01-01 and 2025-01-02."""
    lines = [header_line(FileKind.SETTLEMENT)] + [
        f"psp-mellat,2025-01-02,{row['iban']},{row['amount']},{row['payment_id']},{rrn},{stan},{terminal_id},"
        "2025-01-01T20:29:59Z,"
        for row in rows
    ]
    status, _ = await import_file(
        gateway, await keys("admin"), "psp-mellat", "settlement", ("\n".join(lines) + "\n").encode()
    )
    assert status == 201
    regulator = await keys("regulator")
    before_midnight = await _report_rows(gateway, regulator, "2025-01-01", "psp-mellat")
    after_midnight = await _report_rows(gateway, regulator, "2025-01-02", "psp-mellat")
    return _rows_of(before_midnight, rrn), _rows_of(after_midnight, rrn)


async def test_a_pair_on_either_side_of_midnight_belongs_to_the_day_the_charge_completed(gateway, keys, db):
    # The PSP took the card a second before midnight, and the gateway completed the charge two seconds after.
    charge = await charge_cap(gateway, await keys("t:10000004"), "10000004", "op-31", "1104")
    rrn = "412345000001"
    copy = {
        "id": str(uuid.uuid4()),
        "rrn": rrn,
        "tracking_code": None,
        "created_at": "2025-01-01T20:29:58Z",
        "completed_at": "2025-01-01T20:30:01Z",
    }
    await db.execute(
        "INSERT INTO charges SELECT (jsonb_populate_record(c, $2::jsonb)).* FROM charges c WHERE c.id = $1",
        uuid.UUID(charge["id"]),
        copy,
    )
    before_midnight, after_midnight = await _settled_a_second_before_midnight(
        gateway, keys, charge["settlement_rows"], rrn=rrn, stan=charge["stan"], terminal_id="10000004"
    )
    assert before_midnight == []
    assert [row["kind"] for row in after_midnight] == ["matched"] * len(charge["settlement_rows"])


async def test_a_refund_instructed_after_midnight_takes_its_rows_back_on_that_day(
    gateway, keys, db, reversal_windows_closed
):
    # The PSP's clock puts the refund's lines a second before midnight, the gateway's instruction two seconds after
    # it: the refund's rows are the second day's, not the first's.
    vanak = await keys("t:10000001")
    refund = await refund_charge(gateway, vanak, await charge_cap(gateway, vanak, "10000001", "op-11", "1104"))
    stan = await db.fetchval(
        "UPDATE refunds SET instructed_at = '2025-01-01T20:30:01Z' WHERE charge_id = $1 RETURNING stan",
        uuid.UUID(refund["charge_id"]),
    )
    taken_back = [{**row, "amount": -row["amount"]} for row in refund["rows"]]
    before_midnight, after_midnight = await _settled_a_second_before_midnight(
        gateway, keys, taken_back, rrn=refund["rrn"], stan=stan, terminal_id="10000001"
    )
    assert before_midnight == []
    assert [row["kind"] for row in after_midnight] == ["refunded"] * len(refund["rows"])
