"""`pishkhan keys revoke` takes effect at once, in the gateway process that just served the key and in another."""

from __future__ import annotations

from tests.security.cli import create_key, pishkhan

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
