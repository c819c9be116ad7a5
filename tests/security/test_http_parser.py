"""What the HTTP parser refuses is answered in the error shape without quoting the bytes back; the server does not
name its versions; `Expect: 100-continue` over the limit is 413 before the body is sent; a slow body times out; a
client that goes away is neither a 500 nor an unhandled error."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from urllib.parse import urlsplit

import orjson
import pytest

from gateway.web.app import MAX_BODY_BYTES
from tests.security.test_raw_bytes import raw_request
from tests.stack import served

SECRET_MARK = b"Zq9XmarkerZq9X"


def _shaped(status: int, headers: dict[str, str], payload: bytes) -> str:
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, payload)
    assert SECRET_MARK not in payload, "the refused bytes are not echoed"
    assert headers.get("server") == "pishkhan"
    return orjson.loads(payload)["error"]["code"]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"GET /v1/keys HTTP/1.1\r\nX-Big: " + SECRET_MARK + b"a" * 20_000, (431, "headers_too_large")),
        (
            b"GET /v1/keys HTTP/1.1" + b"".join(b"\r\nX-H%d: %s" % (i, SECRET_MARK) for i in range(300)),
            (431, "headers_too_large"),
        ),
        (b"GET /v1/keys" + SECRET_MARK + b"\x01 HTTP/1.1", (400, "bad_request")),
        (b"G\xffT /v1/keys HTTP/1.1", (400, "bad_request")),
        (b"GET /v1/keys HTTP/1.1\r\nX-Bad\x00: " + SECRET_MARK, (400, "bad_request")),
        (
            b"POST /v1/receipts/111100010000000013/verify HTTP/1.1\r\nContent-Type: application/json"
            b"\r\nContent-Length: 4\r\nTransfer-Encoding: chunked",
            (400, "bad_request"),
        ),
    ],
)
async def test_what_the_parser_refuses_is_answered_in_the_error_shape(gateway, head, expected):
    status, headers, payload = await raw_request(gateway.url, head)
    assert (status, _shaped(status, headers, payload)) == expected


async def test_every_answer_names_the_server_without_versions(gateway):
    for path in ("/healthz", "/v1/nothing-here", "/v1/keys"):
        async with gateway.session.get(gateway.url + path) as response:
            assert response.headers["Server"] == "pishkhan"


async def test_expect_continue_over_the_limit_is_413_before_the_body(gateway):
    parts = urlsplit(gateway.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(
            b"POST /v1/receipts/111100010000000013/verify HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)
        )
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)  # no body was sent
    finally:
        writer.close()
    assert first.startswith(b"HTTP/1.1 413"), first


async def test_a_slow_body_times_out_with_408(settings, http_session):
    async with served(dataclasses.replace(settings, body_timeout_s=0.5), http_session) as gateway:
        parts = urlsplit(gateway.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(
                b"POST /v1/receipts/111100010000000013/verify HTTP/1.1\r\nHost: gateway\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE).group(1))
            body = await asyncio.wait_for(reader.readexactly(length), 5)
        finally:
            writer.close()
    assert head.startswith(b"HTTP/1.1 408"), head
    assert orjson.loads(body)["error"]["code"] == "request_timeout"


async def test_a_client_that_goes_away_is_not_a_server_error(gateway, keys, caplog):
    parts = urlsplit(gateway.url)
    key = (await keys("t:10000001")).encode()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            _, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(
                b"POST /v1/charges HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer " + key + b"\r\n"
                b"Idempotency-Key: gone-early\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
            )
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.transport.abort()
        await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]
    async with gateway.session.get(gateway.url + "/metrics") as response:
        text = await response.text()
    assert not re.search(r'pishkhan_http_requests_total\{method="POST",route="/v1/charges",status="500"\}', text)
    assert re.search(r'pishkhan_http_requests_total\{method="POST",route="/v1/charges",status="499"\} [1-9]', text)
