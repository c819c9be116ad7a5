"""Numbers and instants in query strings: ASCII digits of bounded length, instants with any offset inside the years
1900 to 2999; everything else a 400 naming the parameter, never an OverflowError or a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest


@pytest.mark.parametrize("quantity", ["²", "①", "9" * 5000, "-1", "1.0", "۱۰۰۱", "0"])
async def test_a_quantity_that_is_not_a_bounded_number_is_400(gateway, keys, quantity):
    status, error = await gateway.request(
        "GET", f"/v1/tariffs/quote?service_code=1101&quantity={quote(quantity)}", key=await keys("t:10000001")
    )
    assert (status, error["error"]["param"]) == (400, "quantity")


async def test_persian_digits_are_read_as_a_quantity(gateway, keys):
    status, _ = await gateway.request(
        "GET", "/v1/tariffs/quote?service_code=1101&quantity=۲", key=await keys("t:10000001")
    )
    assert status == 200


EDGES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+12:00",
    "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
    "2024-01-01T00:00:00",
    "2024-13-01T00:00:00Z",
]


@pytest.mark.parametrize("at", EDGES)
async def test_tariffs_at_the_calendars_edges_are_400(gateway, keys, at):
    for path in (f"/v1/tariffs?at={quote(at)}", f"/v1/tariffs/quote?service_code=1101&at={quote(at)}"):
        status, error = await gateway.request("GET", path, key=await keys("t:10000001"))
        assert (status, error["error"]["param"]) == (400, "at"), path


async def test_any_offset_within_the_range_is_accepted(gateway):
    status, answer = await gateway.request("GET", "/v1/tariffs?at=" + quote("2024-06-01T12:00:00+14:00"))
    assert status == 200 and answer["at"] == "2024-05-31T22:00:00Z"


@pytest.mark.parametrize("moment", [*EDGES, "0001-01-01", "9999-12-31", "0001/01/01", "9377/12/29"])
async def test_regulator_filters_at_the_calendars_edges_are_400(gateway, keys, moment):
    status, error = await gateway.request(
        "GET", f"/v1/regulator/violations?from={quote(moment)}", key=await keys("regulator")
    )
    assert status == 400, error
