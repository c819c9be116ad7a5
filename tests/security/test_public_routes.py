"""The routes anyone may call: receipt verification is no oracle (an unsigned or forged copy learns nothing about
the stored receipt), and every client address has its own per-minute allowance."""

from __future__ import annotations

import base64
import dataclasses
import secrets

from receipts.qr import make_qr_payload
from tests.stack import charge_body, served


async def test_a_forged_qr_payload_with_the_right_amount_learns_nothing(gateway, keys):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=612_000))
    assert status == 201
    genuine = make_qr_payload(charge["receipt"], gateway.services.keyring)
    version, fields, signature = genuine.split(".")
    # The stored fields, exactly, under a signature nobody made: guessing right must look like guessing wrong.
    bad_signature = base64.urlsafe_b64encode(b"\x00" * len(base64.urlsafe_b64decode(signature + "=="))).decode()
    forged = f"{version}.{fields}.{bad_signature.rstrip('=')}"
    path = f"/v1/receipts/{charge['tracking_code']}/verify"

    _, right_guess = await gateway.request("POST", path, json={"qr_payload": forged})
    assert right_guess["presented"]["matches_stored_receipt"] is False
    assert right_guess["presented"]["altered"] is True
    unsigned_copy = {"receipt": charge["receipt"]["receipt"], "signature": {}}
    _, copy_answer = await gateway.request("POST", path, json=unsigned_copy)
    assert copy_answer["presented"]["matches_stored_receipt"] is False


async def test_public_routes_are_limited_per_client_address(settings, http_session):
    limited = dataclasses.replace(settings, public_rate_limit_per_minute=3, trusted_proxies="127.0.0.1")
    client, another = _new_address(), _new_address()  # counters of earlier runs in this minute stay in Redis
    async with served(limited, http_session) as gateway:
        for _ in range(3):
            assert (await gateway.request("GET", "/v1/keys", headers={"X-Forwarded-For": client}))[0] == 200
        status, refused = await gateway.request("GET", "/v1/keys", headers={"X-Forwarded-For": client})
        assert status == 429 and refused["error"]["details"]["scope"] == "address"
        other = await gateway.request("GET", "/v1/keys", headers={"X-Forwarded-For": f"{client}, {another}"})
        assert other[0] == 200, "the right-most untrusted hop is the client"
        assert (await gateway.request("GET", "/healthz"))[0] == 200


def _new_address() -> str:
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


async def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(settings, http_session):
    """Every request comes from 127.0.0.1 here, which no proxy setting trusts: one counter, whatever the header."""
    limited = dataclasses.replace(settings, public_rate_limit_per_minute=2, trusted_proxies="")
    async with served(limited, http_session) as gateway:
        redis = gateway.services.redis
        await redis.delete(*[key async for key in redis.scan_iter("pishkhan:{public:127.0.0.1}:*")], "none")
        answers = [
            (await gateway.request("GET", "/v1/keys", headers={"X-Forwarded-For": f"198.51.100.{n}"}))[0]
            for n in range(3)
        ]
    assert answers == [200, 200, 429]
