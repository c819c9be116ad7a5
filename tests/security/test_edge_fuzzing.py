"""Every route of the published document, fed what a careless or hostile client sends: text from every Unicode
category (controls, format characters, private use, unassigned), instants at the calendar's edges with any offset,
and integers of hundreds of digits in any script, in every query parameter, path parameter and JSON body field.
Never a 5xx: each answer is a success or a refusal in the error shape. Bounded for `make test`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.web.openapi import openapi_document

ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=40)


def _extreme_instant() -> st.SearchStrategy[str]:
    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
    moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
    edges = st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "0001-01-01", "9999/12/29"])
    return st.one_of(edges, st.builds(lambda m, o: m.astimezone(o).isoformat(), moments, offsets))


HUGE_INTEGER = st.one_of(
    st.integers(min_value=10**18, max_value=10**400).map(str),
    st.integers(min_value=1, max_value=10**60).map(
        lambda n: str(n).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    ),
    st.sampled_from(["²", "①", "𝟗𝟗", "-1", "1e999", "0x10", " 7 "]),
)
HOSTILE = st.one_of(ANY_TEXT, _extreme_instant(), HUGE_INTEGER)
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), ANY_TEXT, HUGE_INTEGER),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _operations() -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path template, query parameter names, path parameter names) of every published operation."""
    found = []
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            query = [p["name"] for p in params if p["in"] == "query"]
            found.append((method.upper(), path, query, re.findall(r"\{(\w+)\}", path)))
    return found


ROLE_FOR_PATH = {
    "/v1/agencies/{agency_id}/settlements": "regulator",
    "/v1/reconciliation": "regulator",
    "/v1/psps/{psp_id}/settlement-files": "admin",
}


@pytest.fixture(scope="module")
async def callers(keys) -> dict[str, str]:
    return {"terminal": await keys("t:10000004"), "regulator": await keys("regulator"), "admin": await keys("admin")}


@pytest.mark.parametrize(("method", "path", "query", "path_params"), _operations())
async def test_hostile_values_in_every_parameter_are_never_a_server_error(
    served_gateway, callers, method, path, query, path_params
):
    regulator_route = path.startswith("/v1/regulator")
    key = callers["regulator" if regulator_route else ROLE_FOR_PATH.get(path, "terminal")]

    cases = []

    # hypothesis draws the cases; the running gateway is then called with each (its client is asynchronous).
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        values=st.fixed_dictionaries(dict.fromkeys(query, HOSTILE)),
        in_path=st.fixed_dictionaries(dict.fromkeys(path_params, HOSTILE)),
        body=JSON_VALUE,
    )
    def draw(values, in_path, body):
        cases.append((values, in_path, body))

    draw()
    async with aiohttp.ClientSession() as session:
        for values, in_path, body in cases:
            target = path
            for name, value in in_path.items():
                target = target.replace("{" + name + "}", quote(value, safe="") or "x")
            query_string = "&".join(f"{quote(name)}={quote(value, safe='')}" for name, value in values.items())
            url = f"{served_gateway.url}{target}" + (f"?{query_string}" if query_string else "")
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "fuzz-" + quote(str(body))[:40]}
            async with session.request(
                method, url, json=body if method == "POST" else None, headers=headers
            ) as response:
                payload = await response.read()
                assert response.status < 500, (method, url, body, response.status, payload[:300])
                if response.status >= 400:
                    assert (await response.json())["error"]["code"], payload
