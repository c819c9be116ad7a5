"""GET /v1/tariffs/quote with extras: the cap a charge would be held to, and what the service offers."""

from __future__ import annotations

from tests.stack import charge_body

QUOTE = "/v1/tariffs/quote"


async def test_the_quote_with_extras_is_the_cap_a_charge_is_held_to(gateway, keys):
    key = await keys("t:10000001")
    status, plain = await gateway.request("GET", f"{QUOTE}?service_code=1101", key=key)
    assert status == 200
    offered = {extra["code"]: extra["unit_cap"] for extra in plain["extras_offered"]}
    assert set(offered) == {"scan_page", "print_page", "photo"}

    status, quote = await gateway.request(
        "GET", f"{QUOTE}?service_code=1101&quantity=1&extras=scan_page:3,photo:1", key=key
    )
    assert status == 200, quote
    assert quote["cap"] == plain["cap"] + 3 * offered["scan_page"] + offered["photo"]
    assert [(e["code"], e["quantity"], e["cap"]) for e in quote["extras"]] == [
        ("scan_page", 3, 3 * offered["scan_page"]),
        ("photo", 1, offered["photo"]),
    ]
    extras = [{"code": "scan_page", "quantity": 3}, {"code": "photo", "quantity": 1}]
    status, over = await gateway.charge(key, charge_body(amount=quote["cap"] + 1, extras=extras))
    assert status == 422 and over["error"]["details"]["cap"] == quote["cap"]
    status, charge = await gateway.charge(key, charge_body(amount=quote["cap"], extras=extras))
    assert status == 201, charge


async def test_bad_extras_are_refused_with_their_field(gateway, keys):
    key = await keys("t:10000001")
    for extras in ("scan_page", "scan_page:x", "Scan:1", "scan_page:1,", ",".join(["scan_page:1"] * 21)):
        status, error = await gateway.request("GET", f"{QUOTE}?service_code=1101&extras={extras}", key=key)
        assert (status, error["error"]["param"]) == (400, "extras"), extras
    status, error = await gateway.request("GET", f"{QUOTE}?service_code=1104&extras=photo:1", key=key)
    assert (status, error["error"]["code"], error["error"]["param"]) == (422, "unknown_extra", "extras")
    status, error = await gateway.request("GET", f"{QUOTE}?service_code=1101&extras=scan_page:0", key=key)
    assert (status, error["error"]["code"]) == (422, "invalid_quantity")
    status, error = await gateway.request("GET", f"{QUOTE}?service_code=2101", key=await keys("t:10000006"))
    assert (status, error["error"]["code"]) == (403, "service_not_assigned")
