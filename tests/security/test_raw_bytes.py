"""Bytes that are not UTF-8, in headers (Authorization and Idempotency-Key included) and in the URL: a 4xx in the
error shape, never a 5xx or a plain-text page, on a regulator's route too (where every query is logged)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import orjson
import pytest

from tests.stack import charge_body

ERROR_FIELDS = {"type", "code", "message", "param", "details"}


async def raw_request(base_url: str, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte on its own connection; the status, headers and body of the answer."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head + b"\r\nHost: gateway\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head_part.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, payload


def _error_of(status: int, headers: dict[str, str], payload: bytes) -> dict:
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, payload)
    error = orjson.loads(payload)["error"]
    assert set(error) >= ERROR_FIELDS
    return error


@pytest.mark.parametrize(
    "credentials", [b"Bearer pk_\xff\xfe.\xc3", b"Bearer \x80", b"\xff\xff", b"Bearer pk_a.b\xed\xa0\x80"]
)
async def test_an_authorization_header_that_is_not_utf8_is_401(gateway, credentials):
    status, headers, payload = await raw_request(
        gateway.url, b"GET /v1/tariffs/quote?service_code=1101 HTTP/1.1\r\nAuthorization: " + credentials
    )
    assert status == 401
    assert _error_of(status, headers, payload)["type"] == "authentication_error"


async def test_an_idempotency_key_that_is_not_utf8_is_400_and_stores_nothing(gateway, keys, db):
    before = await db.fetchval("SELECT count(*) FROM idempotency_keys")
    body = orjson.dumps(charge_body())
    status, headers, payload = await raw_request(
        gateway.url,
        b"POST /v1/charges HTTP/1.1\r\nAuthorization: Bearer "
        + (await keys("t:10000001")).encode()
        + b"\r\nIdempotency-Key: \xff\xfeabc\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode(),
        body,
    )
    assert status == 400
    assert _error_of(status, headers, payload)["param"] == "Idempotency-Key"
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == before


@pytest.mark.parametrize(
    "target",
    [
        b"/v1/regulator/violations?office_id=\xff\xfe",
        b"/v1/regulator/violations?from=\xc3\x28",
        b"/v1/regulator/\xff",
        b"/v1/regulator/excess-fees?format=\xed\xa0\x80",
    ],
)
async def test_a_url_that_is_not_utf8_is_a_4xx_on_a_logged_regulator_route(gateway, keys, target):
    key = (await keys("regulator")).encode()
    status, headers, payload = await raw_request(
        gateway.url, b"GET " + target + b" HTTP/1.1\r\nAuthorization: Bearer " + key
    )
    assert 400 <= status < 500, (status, payload)
    _error_of(status, headers, payload)


@pytest.mark.parametrize("target", [b"/v1/tariffs?at=\xff", b"/v1/receipts/\xff\xfe", b"/v1/keys?\xc3"])
async def test_a_url_that_is_not_utf8_is_a_4xx_on_a_public_route(gateway, target):
    status, headers, payload = await raw_request(gateway.url, b"GET " + target + b" HTTP/1.1")
    assert 400 <= status < 500 or status == 200, (status, payload)
    if status != 200:
        _error_of(status, headers, payload)
