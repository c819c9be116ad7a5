"""The regulator's queries over HTTP: who may ask, filters, pages, CSV, scorecards with penalty arithmetic, and
the access log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from urllib.parse import quote

from gateway.core.periods import HalfYear
from gateway.oversight.penalty_rules import load_penalty_rules
from tests.oversight.support import detect, key_id, recipient, utcnow
from tests.stack import charge_body

KASHAN = "31110003"


def _csv(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


async def _attempt_over_cap(gateway, key: str, excess: int = 900_000, **changes) -> None:
    body = charge_body(terminal_id="10000004", operator_id="op-31", recipient=recipient(), amount=excess, **changes)
    status, answer = await gateway.charge(key, body)
    assert status == 422, answer


async def _at(gateway, moment: datetime, attempt) -> None:
    """Makes `attempt` happen at `moment` on the charge path's clock."""
    charges = gateway.services.charges
    real_clock, charges.clock = charges.clock, lambda: moment
    try:
        await attempt()
    finally:
        charges.clock = real_clock


async def test_only_regulator_keys_may_ask(gateway, keys):
    for name in ("t:10000001", "admin", "a:police"):
        for path in (
            "/v1/regulator/violations",
            "/v1/regulator/excess-fees",
            f"/v1/regulator/offices/{KASHAN}/scorecard",
        ):
            status, body = await gateway.request("GET", path, key=await keys(name))
            assert status == 403 and body["error"]["code"] == "role_not_allowed", (name, path)
    status, _ = await gateway.request("GET", "/v1/regulator/violations")
    assert status == 401


async def test_excess_fees_count_findings_per_office_operator_and_service(gateway, keys, db):
    since = utcnow()
    kashan = await keys("t:10000004")
    _, quote_1101 = await gateway.request("GET", "/v1/tariffs/quote?service_code=1101", key=kashan)
    cap = quote_1101["cap"]
    await _attempt_over_cap(gateway, kashan, cap + 50_000)
    await _attempt_over_cap(gateway, kashan, cap + 70_000)
    await _attempt_over_cap(gateway, kashan, payment_method="cash", excess=cap)
    await detect(gateway, db, since)
    regulator = await keys("regulator")
    window = f"from={quote(since.isoformat())}"

    status, page = await gateway.request("GET", f"/v1/regulator/excess-fees?{window}&office_id={KASHAN}", key=regulator)
    assert status == 200, page
    (row,) = [r for r in page["data"] if (r["operator_id"], r["service_code"]) == ("op-31", "1101")]
    assert (row["office_id"], row["province"], row["findings"]) == (KASHAN, "اصفهان", 3)
    assert (row["excess_fee"], row["cash_payment"], row["split_charging"]) == (2, 1, 0)
    assert (row["refused_over_cap"], row["collected_over_cap"]) == (120_000, 0)
    assert page["filters"]["office_ids"] == [KASHAN]

    status, in_province = await gateway.request(
        "GET", f"/v1/regulator/excess-fees?{window}&province={quote('اصفهان')}", key=regulator
    )
    assert status == 200 and row in in_province["data"]
    status, elsewhere = await gateway.request(
        "GET", f"/v1/regulator/excess-fees?{window}&province={quote('تهران')}", key=regulator
    )
    assert status == 200 and all(r["office_id"] != KASHAN for r in elsewhere["data"])

    for query, headers in (
        (f"{window}&office_id={KASHAN}&format=csv", None),
        (f"{window}&office_id={KASHAN}", {"Accept": "text/csv"}),
    ):
        status, body = await gateway.request(
            "GET", f"/v1/regulator/excess-fees?{query}", key=regulator, headers=headers
        )
        assert status == 200
        (line,) = [r for r in _csv(body) if (r["operator_id"], r["service_code"]) == ("op-31", "1101")]
        assert (line["excess_fee"], line["cash_payment"], line["refused_over_cap"]) == ("2", "1", "120000")


async def test_violations_come_in_pages_joined_by_their_cursor(gateway, keys, db):
    since = utcnow()
    kashan = await keys("t:10000004")
    for extra in range(5):
        await _attempt_over_cap(gateway, kashan, 900_000 + extra)
    await detect(gateway, db, since)
    regulator = await keys("regulator")
    base = f"/v1/regulator/violations?office_id={KASHAN}&from={quote(since.isoformat())}&type=excess_fee"

    seen, pages, cursor = [], [], None
    while True:
        status, page = await gateway.request(
            "GET", base + "&limit=2" + (f"&cursor={cursor}" if cursor else ""), key=regulator
        )
        assert status == 200, page
        pages.append(len(page["data"]))
        seen += page["data"]
        cursor = page["next_cursor"]
        assert page["has_more"] == (cursor is not None)
        if cursor is None:
            break
    assert pages == [2, 2, 1]
    assert [v["amount"] for v in seen] == [900_000 + extra for extra in range(5)]
    assert len({v["id"] for v in seen}) == 5
    assert all(
        v["type"] == "excess_fee" and v["obligation"] == "no_excess_fee" and not v["money_collected"] for v in seen
    )
    assert seen[0]["evidence"]["requested"] == 900_000
    assert seen[0]["period"] == HalfYear.containing(since).label

    status, body = await gateway.request("GET", base + "&format=csv", key=regulator)
    assert status == 200
    lines = _csv(body)
    assert [int(line["id"]) for line in lines] == [v["id"] for v in seen]

    status, none = await gateway.request("GET", base.replace("excess_fee", "offbook_transaction"), key=regulator)
    assert status == 200 and none["data"] == [] and none["next_cursor"] is None


async def test_malformed_queries_are_refused_with_the_parameter_named(gateway, keys):
    regulator = await keys("regulator")
    for query, param in (
        ("limit=0", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("from=yesterday", "from"),
        ("type=gossip", "type"),
        ("from=2025-01-02&to=2025-01-01", "from"),
        ("office_id=123", "office_id"),
        ("format=xml", "format"),
        ("from=0001-01-01", "from"),
        ("to=9999/12/29", "to"),
    ):
        status, body = await gateway.request("GET", f"/v1/regulator/violations?{query}", key=regulator)
        assert status == 400 and body["error"]["param"] == param, (query, body)
    status, body = await gateway.request(
        "GET", f"/v1/regulator/offices/{KASHAN}/scorecard?period=1403-H3", key=regulator
    )
    assert status == 400 and body["error"]["param"] == "period"
    status, _ = await gateway.request("GET", "/v1/regulator/offices/99999999/scorecard", key=regulator)
    assert status == 404
    status, card = await gateway.request(
        "GET", f"/v1/regulator/offices/{KASHAN}/scorecard?period=1500-H2", key=regulator
    )
    assert status == 200 and card["period"]["last_day"] == "1500/12/29" and card["negative_indicators"] == 0


async def test_a_jalali_day_range_covers_whole_tehran_days(gateway, keys, db):
    kashan = await keys("t:10000004")
    moment = datetime(2024, 6, 10, 20, 0, tzinfo=UTC)  # 1403/03/21 23:30 in Tehran
    await _at(gateway, moment, lambda: _attempt_over_cap(gateway, kashan, 901_234))
    await detect(gateway, db, moment)
    regulator = await keys("regulator")
    for query, expected in (
        ("from=1403/03/21&to=1403/03/21", 1),
        ("from=1403/03/22", 0),
        ("to=1403/03/20", 0),
        ("from=2024-06-10&to=2024-06-10", 1),
    ):
        status, page = await gateway.request(
            "GET", f"/v1/regulator/violations?office_id={KASHAN}&type=excess_fee&{query}", key=regulator
        )
        assert status == 200, page
        assert sum(v["amount"] == 901_234 for v in page["data"]) == expected, query


async def test_the_scorecard_counts_the_period_and_suggests_doubling_penalties_for_repeats(gateway, keys, db, settings):
    kashan = await keys("t:10000004")
    first_half = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # 1403/02/12
    second_half = datetime(2024, 11, 2, 8, 0, tzinfo=UTC)  # 1403/08/12
    await _at(gateway, first_half, lambda: _attempt_over_cap(gateway, kashan))

    async def second_half_attempts():
        await _attempt_over_cap(gateway, kashan, 950_000)
        await _attempt_over_cap(gateway, kashan, payment_method="cash", excess=700_000)

    await _at(gateway, second_half, second_half_attempts)
    await detect(gateway, db, first_half)
    regulator = await keys("regulator")

    status, card = await gateway.request(
        "GET", f"/v1/regulator/offices/{KASHAN}/scorecard?period=1403-H2", key=regulator
    )
    assert status == 200, card
    assert card["office"]["id"] == KASHAN and card["period"]["label"] == "1403-H2" and card["period"]["complete"]
    assert card["period"]["first_day"] == "1403/07/01" and card["period"]["last_day"] == "1403/12/30"
    indicators = {item["type"]: item for item in card["indicators"]}
    assert (indicators["excess_fee"]["count"], indicators["cash_payment"]["count"]) == (1, 1)
    assert indicators["excess_fee"]["excess"] == 950_000 - 700_000
    assert card["negative_indicators"] == 2

    cap_1403 = load_penalty_rules(settings.penalty_rules_path).year_cap(1403).amount
    penalties = {item["obligation"]: item for item in card["penalties"]}
    assert set(penalties) == {"no_excess_fee", "card_only"}
    repeat = penalties["no_excess_fee"]
    assert repeat["earlier_stages"] == [{"period": "1403-H1", "stage": 1, "suggested": cap_1403 // 10}]
    assert (repeat["stage"], repeat["suggested"], repeat["year_cap"]) == (2, 2 * (cap_1403 // 10), cap_1403)
    assert not repeat["limited_by_cap"]
    assert repeat["arithmetic"][0].startswith("cap for 1403 = 1,000,000,000 × index 1403")
    assert f"at least 2 × {cap_1403 // 10:,} (stage 1, 1403-H1)" in repeat["arithmetic"][1]
    assert (penalties["card_only"]["stage"], penalties["card_only"]["suggested"]) == (1, cap_1403 // 10)

    status, earlier = await gateway.request(
        "GET", f"/v1/regulator/offices/{KASHAN}/scorecard?period=1403-H1", key=regulator
    )
    assert status == 200
    assert [(p["obligation"], p["stage"]) for p in earlier["penalties"]] == [("no_excess_fee", 1)]

    status, body = await gateway.request(
        "GET", f"/v1/regulator/offices/{KASHAN}/scorecard?period=1403-H2", key=regulator, headers={"Accept": "text/csv"}
    )
    assert status == 200
    rows = _csv(body)
    assert {(r["section"], r["code"], r["count"]) for r in rows if r["section"] == "indicator"} >= {
        ("indicator", "excess_fee", "1"),
        ("indicator", "cash_payment", "1"),
    }
    penalty_row = next(r for r in rows if r["section"] == "penalty" and r["code"] == "no_excess_fee")
    assert (penalty_row["stage"], int(penalty_row["suggested_penalty"])) == ("2", 2 * (cap_1403 // 10))


async def test_a_clean_office_scorecard_has_no_indicator_and_no_penalty(gateway, keys):
    status, card = await gateway.request("GET", "/v1/regulator/offices/21110002/scorecard", key=await keys("regulator"))
    assert status == 200
    assert card["negative_indicators"] == 0 and card["penalties"] == []
    assert all(item["count"] == 0 for item in card["indicators"])


async def test_every_regulator_query_is_written_to_the_access_log(gateway, keys, db):
    regulator, terminal = await keys("regulator"), await keys("t:10000001")
    status, charge = await gateway.charge(terminal, charge_body(recipient=recipient()))
    assert status == 201
    await gateway.request("GET", f"/v1/regulator/violations?office_id={KASHAN}&limit=1", key=regulator)
    await gateway.request("GET", f"/v1/charges/{charge['id']}", key=regulator)
    await gateway.request("GET", "/v1/regulator/excess-fees?format=csv", key=regulator)
    await gateway.request("POST", "/v1/charges", key=regulator, json=charge_body(), headers={"Idempotency-Key": "x"})
    await gateway.request("GET", "/v1/regulator/violations", key=terminal)

    logged = await db.fetch(
        "SELECT method, path, query, status, at FROM regulator_access_log WHERE key_id = $1 ORDER BY id",
        key_id(regulator),
    )
    entries = [(r["method"], r["path"], r["query"], r["status"]) for r in logged]
    assert ("GET", "/v1/regulator/violations", f"office_id={KASHAN}&limit=1", 200) in entries
    assert ("GET", f"/v1/charges/{charge['id']}", "", 200) in entries
    assert ("GET", "/v1/regulator/excess-fees", "format=csv", 200) in entries
    assert ("POST", "/v1/charges", "", 403) in entries
    assert all(r["at"] is not None for r in logged)
    assert await db.fetchval("SELECT count(*) FROM regulator_access_log WHERE key_id = $1", key_id(terminal)) == 0
