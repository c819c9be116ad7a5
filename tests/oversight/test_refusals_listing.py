"""Every kind of refusal the charge path stores is visible to the regulator: GET /v1/regulator/refusals, filtered,
in pages and as CSV."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from tests.stack import charge_body

KINDS = {
    "payment_method_invalid": {"payment_method": "Card"},
    "cash_forbidden": {"payment_method": "cash"},
    "operator_not_in_office": {"operator_id": "op-21"},
    "service_not_assigned": {"service_code": "9999"},
    "below_government_fee": {"amount": 1},
    "unknown_extra": {"extras": [{"code": "no_such_extra", "quantity": 1}]},
    "terminal_mismatch": {"terminal_id": "10000002"},
    "excess_fee": {"amount": 900_000_000},
}


async def test_every_stored_refusal_kind_is_listed_for_the_regulator(gateway, keys, db):
    since = await db.fetchval("SELECT now()")
    key = await keys("t:10000001")
    for reason, overrides in KINDS.items():
        status, error = await gateway.charge(key, charge_body(**overrides))
        assert error["error"]["code"] == reason, (reason, status, error)
    stored = {r["reason"] for r in await db.fetch("SELECT DISTINCT reason FROM refusals WHERE created_at >= $1", since)}
    assert stored == set(KINDS)

    regulator = await keys("regulator")
    window = f"from={quote(since.isoformat())}&office_id=11110001"
    seen, cursor = [], None
    while True:
        page_query = f"/v1/regulator/refusals?{window}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = await gateway.request("GET", page_query, key=regulator)
        assert status == 200, page
        seen += page["data"]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert {row["reason"] for row in seen} == set(KINDS)
    assert all(row["terminal_id"] == "10000001" for row in seen)
    assert [row["payment_method"] for row in seen if row["reason"] == "payment_method_invalid"] == ["Card"]

    status, only = await gateway.request(
        "GET", f"/v1/regulator/refusals?{window}&reason=unknown_extra,terminal_mismatch", key=regulator
    )
    assert status == 200 and {row["reason"] for row in only["data"]} == {"unknown_extra", "terminal_mismatch"}

    status, text = await gateway.request("GET", f"/v1/regulator/refusals?{window}&format=csv", key=regulator)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text.decode())))
    assert {row["reason"] for row in rows} == set(KINDS)

    status, error = await gateway.request("GET", "/v1/regulator/refusals?reason=DROP%20TABLE", key=regulator)
    assert (status, error["error"]["param"]) == (400, "reason")
    assert (await gateway.request("GET", "/v1/regulator/refusals", key=key))[0] == 403
