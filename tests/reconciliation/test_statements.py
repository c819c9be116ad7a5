"""Agency settlement statements over charges completed through the gateway."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from gateway.core.jalali import format_jalali_datetime
from tests.reconciliation.support import charge_cap, charge_day, void_charge

POLICE_IBAN, POLICE_PAYMENT_ID = "IR560150679290810033907579", "220012345678902"


async def _all_pages(gateway, key: str, path: str, limit: int) -> tuple[list[dict], list[dict]]:
    """Every row of the statement, one page at a time, and the totals each page reported."""
    rows, totals, cursor = [], [], ""
    while True:
        status, page = await gateway.request("GET", f"{path}&limit={limit}{cursor}", key=key)
        assert status == 200, page
        rows += page["data"]
        totals.append(page["totals"])
        if not page["has_more"]:
            return rows, totals
        cursor = f"&starting_after={page['next_starting_after']}"


async def test_a_statement_lists_the_agencys_completed_charges_with_its_share(gateway, keys):
    key = await keys("t:10000002")
    passport = await charge_cap(gateway, key, "10000002", "op-12", "2101")
    licence = await charge_cap(gateway, key, "10000002", "op-12", "2102")
    insurance = await charge_cap(gateway, key, "10000002", "op-12", "3101")
    undone = await charge_cap(gateway, key, "10000002", "op-12", "2101")
    void = await void_charge(gateway, key, undone)
    day = charge_day(passport)
    path = f"/v1/agencies/police/settlements?date={day}"

    rows, totals = await _all_pages(gateway, await keys("a:police"), path, limit=1)

    by_charge = {row["charge_id"]: row for row in rows}
    assert insurance["id"] not in by_charge
    for charge in (passport, licence):
        row = by_charge[charge["id"]]
        assert (row["tracking_code"], row["office_id"], row["terminal_id"], row["psp_id"], row["rrn"]) == (
            charge["tracking_code"],
            "11110001",
            "10000002",
            "psp-saman",
            charge["rrn"],
        )
        assert datetime.fromisoformat(row["completed_at"]) == datetime.fromisoformat(charge["completed_at"])
        assert row["completed_at"].endswith("Z")
        assert row["agency_share"] == charge["breakdown"]["government_share"] > 0
        assert (row["iban"], row["payment_id"]) == (POLICE_IBAN, POLICE_PAYMENT_ID)
        assert row["amount"] == charge["amount"]
        assert row["voided_by"] is None
    assert by_charge[undone["id"]]["voided_by"] == void["cancellation_tracking_code"]
    assert rows[0]["completed_at_jalali"] == format_jalali_datetime(datetime.fromisoformat(rows[0]["completed_at"]))
    assert [(row["completed_at"], row["charge_id"]) for row in rows] == sorted(
        (row["completed_at"], row["charge_id"]) for row in rows
    )
    assert len(by_charge) == len(rows) >= 2
    # Totals cover the whole day on every page, not the page.
    assert all(t == totals[0] for t in totals)
    assert totals[0] == {
        "charges": len(rows),
        "amount": sum(row["amount"] for row in rows),
        "agency_share": sum(row["agency_share"] for row in rows),
        "agency_share_returned": sum(
            row["agency_share"] for row in rows if row["voided_by"] or row["refund_status"] == "settled"
        ),
        "agency_share_refund_pending": sum(row["agency_share"] for row in rows if row["refund_status"] == "instructed"),
    }
    assert totals[0]["agency_share_returned"] >= undone["breakdown"]["government_share"] > 0


async def test_the_statement_as_csv_has_the_same_rows_and_its_totals_in_headers(gateway, keys):
    key = await keys("t:10000002")
    charge = await charge_cap(gateway, key, "10000002", "op-12", "2101")
    path = f"/v1/agencies/police/settlements?date={charge_day(charge)}"
    police = await keys("a:police")
    rows, totals = await _all_pages(gateway, police, path, limit=1000)

    async with gateway.session.get(
        gateway.url + path, headers={"Authorization": f"Bearer {police}", "Accept": "text/csv"}
    ) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        text = await response.text()
        assert response.headers["Pishkhan-Total-Amount"] == str(totals[0]["amount"])
        assert response.headers["Pishkhan-Total-Agency-Share"] == str(totals[0]["agency_share"])
    listed = list(csv.DictReader(io.StringIO(text)))
    assert [row["charge_id"] for row in listed] == [row["charge_id"] for row in rows]
    assert listed[-1] == {name: "" if value is None else str(value) for name, value in rows[-1].items()}
    status, same = await gateway.request("GET", f"{path}&format=csv", key=police)
    assert status == 200 and same.decode() == text


async def test_an_agency_sees_only_its_own_statement_and_the_regulator_sees_all(gateway, keys):
    path = "/v1/agencies/{}/settlements?date=2025-03-04"
    status, error = await gateway.request("GET", path.format("civil-registration"), key=await keys("a:police"))
    assert status == 404 and error["error"]["code"] == "resource_missing"
    for agency in ("police", "civil-registration"):
        status, statement = await gateway.request("GET", path.format(agency), key=await keys("regulator"))
        assert status == 200 and statement["agency_id"] == agency and statement["date_jalali"] == "1403/12/14"
    status, _ = await gateway.request("GET", path.format("nobody"), key=await keys("regulator"))
    assert status == 404
    status, _ = await gateway.request("GET", path.format("police"), key=await keys("t:10000002"))
    assert status == 403
    status, error = await gateway.request(
        "GET", path.format("police") + "&starting_after=nope", key=await keys("a:police")
    )
    assert status == 400 and error["error"]["param"] == "starting_after"
    status, error = await gateway.request("GET", "/v1/agencies/police/settlements", key=await keys("a:police"))
    assert status == 400 and error["error"]["param"] == "date"


async def test_an_agencys_statement_share_is_what_reconciliation_counts_as_collected_for_it(gateway, keys):
    charge = await charge_cap(gateway, await keys("t:10000002"), "10000002", "op-12", "2104")
    day = charge_day(charge)
    regulator = await keys("regulator")
    _, statement = await gateway.request("GET", f"/v1/agencies/police/settlements?date={day}", key=regulator)
    _, report = await gateway.request("GET", f"/v1/reconciliation?date={day}", key=regulator)
    (police,) = [group for group in report["by_agency"] if group["agency_id"] == "police"]
    assert police["collected"] == statement["totals"]["agency_share"] >= charge["breakdown"]["government_share"]
