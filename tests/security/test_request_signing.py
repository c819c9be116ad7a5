"""Signed requests (HMAC-SHA256 over method, path with query, timestamp, nonce and body hash) through the gateway."""

from __future__ import annotations

import time

import orjson
import pytest

from gateway.web.request_signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from tests.security.cli import create_key
from tests.stack import charge_body

QUOTE = "/v1/tariffs/quote?service_code=1101"


@pytest.fixture(scope="module")
async def signing_key(database_url, db):
    """A terminal key issued with --require-signature, through the command line."""
    return await create_key(database_url, "--role", "terminal", "--terminal-id", "10000001", "--require-signature")


async def _signed(gateway, key: str, method: str, path: str, body: bytes = b"", **signing) -> tuple[int, object]:
    headers = signed_headers(key, method, path, body, **signing)
    if body:
        headers["Content-Type"] = "application/json"
    return await gateway.request(method, path, data=body or None, headers=headers)


def _code(answer: tuple[int, object]) -> tuple[int, str]:
    status, body = answer
    return status, body["error"]["code"] if status >= 400 else "ok"


async def test_a_signed_request_is_accepted_once(gateway, signing_key):
    headers = signed_headers(signing_key, "GET", QUOTE)
    first = await gateway.request("GET", QUOTE, headers=headers)
    replay = await gateway.request("GET", QUOTE, headers=headers)
    assert first[0] == 200 and first[1]["cap"] > 0
    assert _code(replay) == (401, "nonce_replayed")
    assert replay[1]["error"]["type"] == "authentication_error"


async def test_a_signing_key_never_works_as_a_bearer_key(gateway, signing_key, db):
    before = await db.fetchval("SELECT count(*) FROM charges")
    assert _code(await gateway.request("GET", QUOTE, key=signing_key)) == (401, "signature_required")
    assert _code(await gateway.charge(signing_key, charge_body())) == (401, "signature_required")
    assert await db.fetchval("SELECT count(*) FROM charges") == before


async def test_a_signed_charge_completes_and_any_change_after_signing_is_refused(gateway, signing_key, db):
    body = orjson.dumps(charge_body(amount=640_000))
    headers = signed_headers(signing_key, "POST", "/v1/charges", body) | {
        "Content-Type": "application/json",
        "Idempotency-Key": f"signed-{time.time_ns()}",
    }
    tampered_body = body.replace(b"640000", b"650000")
    assert _code(await gateway.request("POST", "/v1/charges", data=tampered_body, headers=headers)) == (
        401,
        "signature_invalid",
    )
    assert _code(await gateway.request("POST", "/v1/charges?x=1", data=body, headers=headers)) == (
        401,
        "signature_invalid",
    )
    status, charge = await gateway.request("POST", "/v1/charges", data=body, headers=headers)
    assert status == 201 and charge["amount"] == 640_000


async def test_the_query_string_is_signed(gateway, signing_key):
    headers = signed_headers(signing_key, "GET", QUOTE)
    assert _code(await gateway.request("GET", QUOTE + "&quantity=2", headers=headers)) == (401, "signature_invalid")


@pytest.mark.parametrize(
    "offset, expected", [(-301, "timestamp_stale"), (301, "timestamp_stale"), (-290, "ok"), (290, "ok")]
)
async def test_a_timestamp_more_than_five_minutes_off_is_stale(gateway, signing_key, offset, expected):
    answer = await _signed(gateway, signing_key, "GET", QUOTE, timestamp=int(time.time()) + offset)
    assert _code(answer) == ((401, expected) if expected != "ok" else (200, "ok"))


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
async def test_each_signature_header_is_required(gateway, signing_key, missing):
    headers = signed_headers(signing_key, "GET", QUOTE)
    del headers[missing]
    assert _code(await gateway.request("GET", QUOTE, headers=headers)) == (401, "signature_missing")


async def test_malformed_signature_headers_are_refused(gateway, signing_key):
    for header, value in (
        (NONCE_HEADER, "short"),
        (NONCE_HEADER, "۱" * 20),
        (TIMESTAMP_HEADER, "۱۷۰۰۰۰۰۰۰۰"),
        (SIGNATURE_HEADER, "F" * 64),
    ):
        headers = signed_headers(signing_key, "GET", QUOTE) | {header: value}
        assert _code(await gateway.request("GET", QUOTE, headers=headers)) == (401, "signature_missing"), header


async def test_a_signature_made_with_another_secret_is_refused(gateway, signing_key, keys):
    key_id = signing_key[3:].partition(".")[0]
    other_secret = (await keys("t:10000001")).partition(".")[2]
    forged = signed_headers(f"pk_{key_id}.{other_secret}", "GET", QUOTE)
    assert _code(await gateway.request("GET", QUOTE, headers=forged)) == (401, "signature_invalid")


async def test_an_ordinary_key_may_sign_its_requests(gateway, keys):
    assert _code(await _signed(gateway, await keys("t:10000001"), "GET", QUOTE)) == (200, "ok")


async def test_a_nonce_spent_by_a_forged_request_stays_usable(gateway, signing_key):
    headers = signed_headers(signing_key, "GET", QUOTE)
    forged = headers | {SIGNATURE_HEADER: "0" * 64}
    assert _code(await gateway.request("GET", QUOTE, headers=forged)) == (401, "signature_invalid")
    assert _code(await gateway.request("GET", QUOTE, headers=headers)) == (200, "ok")


def _signed_charge(key: str, body: dict, idempotency_key: str | None = None) -> tuple[bytes, dict]:
    data = orjson.dumps(body)
    headers = signed_headers(key, "POST", "/v1/charges", data) | {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key or f"signed-{time.time_ns()}",
    }
    return data, headers


async def test_a_replayed_signed_charge_is_refused_and_changes_nothing(gateway, signing_key, db):
    data, headers = _signed_charge(signing_key, charge_body(amount=630_000))
    status, charge = await gateway.request("POST", "/v1/charges", data=data, headers=headers)
    assert status == 201 and charge["status"] == "completed", charge
    charges = await db.fetchval("SELECT count(*) FROM charges")

    replay = await gateway.request("POST", "/v1/charges", data=data, headers=headers)
    with_another_idempotency_key = headers | {"Idempotency-Key": f"other-{time.time_ns()}"}  # not signed
    replay_keyed_anew = await gateway.request("POST", "/v1/charges", data=data, headers=with_another_idempotency_key)

    assert _code(replay) == _code(replay_keyed_anew) == (401, "nonce_replayed")
    assert await db.fetchval("SELECT count(*) FROM charges") == charges


async def test_a_replayed_signed_charge_that_breaks_a_rule_is_refused_as_a_replay_and_not_recorded(
    gateway, signing_key, db
):
    data, headers = _signed_charge(signing_key, charge_body(service_code="9999"))
    before = await db.fetchval("SELECT count(*) FROM refusals")
    first = await gateway.request("POST", "/v1/charges", data=data, headers=headers)
    assert _code(first) == (403, "service_not_assigned")
    refusals = await db.fetchval("SELECT count(*) FROM refusals")
    assert refusals == before + 1  # the regulator sees the first

    replay = await gateway.request("POST", "/v1/charges", data=data, headers=headers)
    without_idempotency_key = await gateway.request(
        "POST", "/v1/charges", data=data, headers={k: v for k, v in headers.items() if k != "Idempotency-Key"}
    )

    assert _code(replay) == _code(without_idempotency_key) == (401, "nonce_replayed")
    assert await db.fetchval("SELECT count(*) FROM refusals") == refusals
