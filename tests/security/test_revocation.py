"""`pishkhan keys revoke` takes effect at once, in the gateway process that just served the key and in another, on
the charge route too, which remembers active keys' rows."""

from __future__ import annotations

import uuid

from tests.security.cli import create_key, pishkhan
from tests.stack import charge_body

QUOTE = "/v1/tariffs/quote?service_code=1101"


async def _status(session, url: str, key: str) -> tuple[int, str | None]:
    async with session.get(url + QUOTE, headers={"Authorization": f"Bearer {key}"}) as response:
        body = await response.json()
        return response.status, body.get("error", {}).get("code")


async def test_a_revoked_key_is_refused_at_once_by_every_gateway_process(
    gateway, served_gateway, database_url, http_session
):
    key = await create_key(database_url, "--role", "terminal", "--terminal-id", "10000001")
    key_id = key[3:].partition(".")[0]
    processes = (gateway.url, served_gateway.url)
    for url in processes:
        assert await _status(http_session, url, key) == (200, None)

    code, out, err = await pishkhan(database_url, "keys", "revoke", key_id)

    assert code == 0, err
    assert key_id in out and key.partition(".")[2] not in out
    for url in processes:
        assert await _status(http_session, url, key) == (401, "invalid_api_key")
    code, _, err = await pishkhan(database_url, "keys", "revoke", key_id)
    assert code != 0 and "no active key" in err


async def test_a_revoked_key_charges_nothing_although_the_charge_route_remembers_its_row(
    gateway, served_gateway, database_url, db, http_session
):
    key = await create_key(database_url, "--role", "terminal", "--terminal-id", "10000001")
    key_id = key[3:].partition(".")[0]
    processes = (gateway.url, served_gateway.url)
    for url in processes:  # each process charges once with the key, and remembers its row
        assert (await _charge(http_session, url, key))[0] == 201

    code, _, err = await pishkhan(database_url, "keys", "revoke", key_id)
    assert code == 0, err

    charges = await db.fetchval("SELECT count(*) FROM charges")
    for url in processes:
        idempotency_key = uuid.uuid4().hex
        assert await _charge(http_session, url, key, idempotency_key) == (401, "invalid_api_key")
        assert not await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", idempotency_key)
    assert await db.fetchval("SELECT count(*) FROM charges") == charges


async def _charge(session, url: str, key: str, idempotency_key: str | None = None) -> tuple[int, str | None]:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    async with session.post(url + "/v1/charges", json=charge_body(), headers=headers) as response:
        body = await response.json()
        return response.status, body.get("error", {}).get("code")
