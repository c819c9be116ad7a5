"""The regulator access log's chain in PostgreSQL: appended atomically, signed, and every tampering found."""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.core.access_chain import AccessEntry, BreakKind
from gateway.oversight.access_log import log_access, sign_head, sign_heads_daily, signed_heads, verify_access_log
from gateway.platform.migrate import apply_migrations, migration_files
from receipts.keys_files import load_keyring
from receipts.signing import VerifyingKeyring
from tests.oversight.support import restart_access_log

AWKWARD = [  # what a query string or path may hold: Persian, quotes, separators, escapes, control characters
    ("GET", "/v1/regulator/violations", "province=تهران&type=excess_fee", 200),
    ("GET", '/v1/regulator/"quoted"', "a=1,2:3", 404),
    ("GET", "/v1/regulator/excess-fees", "x=\\n\nnew line\ttab\\x00", 400),
    ("POST", "/v1/regulator/access-log/heads", "", 200),
    ("GET", "/v1/charges/🙂", "ي=ك", 404),
    ("GET", "/v1/regulator/violations", "", 200),
]


@pytest.fixture
async def chain(db, gateway):
    """Six entries in a fresh chain; the keyring that signs heads."""
    await restart_access_log(db)
    for number, (method, path, query, status) in enumerate(AWKWARD):
        await log_access(db, key_id=f"regulator-{number % 2}", method=method, path=path, query=query, status=status)
    return gateway.services.keyring


async def _first_break(db, keyring):
    report = await verify_access_log(db, keyring.verifying)
    return None if report.ok else (report.first_break.kind, report.first_break.seq)


async def test_postgresql_and_the_audit_hash_the_same_bytes(db, chain):
    rows = await db.fetch(
        "SELECT seq, at, key_id, method, path, query, status, prev_hash, hash FROM regulator_access_log ORDER BY seq"
    )
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
    for row in rows:
        assert AccessEntry(**row).computed_hash() == row["hash"]
    report = await verify_access_log(db, chain.verifying)
    assert report.ok and report.entries_checked == 6 and report.last_hash == rows[-1]["hash"]


async def test_concurrent_writers_chain_one_after_the_other(db, chain, gateway):
    pool = gateway.services.pool
    await asyncio.gather(
        *(log_access(pool, key_id="r", method="GET", path=f"/v1/x/{n}", query="", status=200) for n in range(40))
    )
    report = await verify_access_log(db, chain.verifying)
    assert report.ok and report.entries_checked == 46 and report.last_seq == 46


async def _delete(db):
    await db.execute("DELETE FROM regulator_access_log WHERE seq = 3")


async def _insert(db):
    """A forged entry at seq 3 whose hash is right for its place; the later entries moved up by one."""
    await db.execute("UPDATE regulator_access_log SET seq = seq + 1000 WHERE seq >= 3")
    await db.execute("UPDATE regulator_access_log SET seq = seq - 999 WHERE seq >= 1000")
    await db.execute(
        """INSERT INTO regulator_access_log (seq, key_id, method, path, query, status, at, prev_hash, hash)
           SELECT 3, 'forged', 'GET', '/v1/regulator/violations', '', 200, at, hash,
                  pishkhan_access_entry_hash(hash, 3, at, 'forged', 'GET', '/v1/regulator/violations', '', 200)
           FROM regulator_access_log WHERE seq = 2"""
    )


async def _reorder(db):
    await db.execute("UPDATE regulator_access_log SET seq = -3 WHERE seq = 3")
    await db.execute("UPDATE regulator_access_log SET seq = 3 WHERE seq = 4")
    await db.execute("UPDATE regulator_access_log SET seq = 4 WHERE seq = -3")


async def _alter(db):
    await db.execute("UPDATE regulator_access_log SET query = 'office_id=99999999' WHERE seq = 3")


async def _cut_the_tail(db):
    await db.execute("DELETE FROM regulator_access_log WHERE seq = 6")


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        (_delete, (BreakKind.SEQ_GAP, 4)),
        (_insert, (BreakKind.BROKEN_LINK, 4)),
        (_reorder, (BreakKind.BROKEN_LINK, 3)),
        (_alter, (BreakKind.ALTERED, 3)),
        (_cut_the_tail, (BreakKind.HEAD_BEYOND_CHAIN, 6)),
    ],
    ids=["delete", "insert", "reorder", "alter", "cut-the-tail"],
)
async def test_each_kind_of_tampering_is_found_at_its_entry(db, chain, tamper, found):
    assert await _first_break(db, chain) is None
    await tamper(db)
    assert await _first_break(db, chain) == found


async def test_a_head_is_signed_once_and_a_forged_signature_is_a_break(db, chain, gateway):
    clock = gateway.services.clock
    head = await sign_head(db, chain, clock)
    assert (head["seq"], head["log"]) == (6, "regulator_access_log")
    assert await sign_head(db, chain, clock) == head  # the same head is not signed twice
    assert await signed_heads(db) == [head]
    assert await _first_break(db, chain) is None

    await db.execute("UPDATE regulator_access_log_signed_heads SET hash = repeat('f', 64)")
    assert await _first_break(db, chain) == (BreakKind.HEAD_SIGNATURE, 6)


async def test_heads_verify_with_the_published_keys_alone(db, chain, gateway):
    await sign_head(db, chain, gateway.services.clock)
    _, published = await gateway.request("GET", "/v1/keys")
    assert (await verify_access_log(db, VerifyingKeyring.from_public_keys(published["data"]))).ok
    other = load_keyring(gateway.services.settings.key_dir.parent / "nowhere").verifying
    assert (await verify_access_log(db, other)).first_break.kind is BreakKind.HEAD_SIGNATURE


async def test_the_head_is_signed_again_once_the_newest_signature_is_a_period_old(db, chain, gateway):
    services = gateway.services
    period = 0.48  # the worker looks every period / 24 = 20 ms

    async def heads_signed(count: int) -> list[dict]:
        for _ in range(200):
            heads = await signed_heads(db)
            if len(heads) >= count:
                return heads
            await asyncio.sleep(0.02)
        raise AssertionError(f"{count} signed heads expected, {len(heads)} found")

    worker = asyncio.create_task(sign_heads_daily(services.pool, lambda: chain, interval=period, clock=services.clock))
    try:
        [first] = await heads_signed(1)
        await log_access(db, key_id="r", method="GET", path="/v1/regulator/violations", query="", status=200)
        await asyncio.sleep(period / 4)
        assert await signed_heads(db) == [first]  # not before its period is over
        later = await heads_signed(2)
        assert [head["seq"] for head in later] == [6, 7]
    finally:
        worker.cancel()
    assert await _first_break(db, chain) is None


async def test_entries_written_before_the_chain_existed_are_chained_in_the_order_they_were_written():
    server_url = os.environ["DATABASE_URL"]
    name = f"pishkhan_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz)")
            for path in migration_files():
                if path.name < "0021":
                    await conn.execute(path.read_text(encoding="utf-8"))
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
            await conn.execute(
                """INSERT INTO regulator_access_log (key_id, method, path, query, status, at) VALUES
                   ('r1', 'GET', '/v1/regulator/violations', 'province=تهران', 200, '2025-01-01T08:00:00Z'),
                   ('r2', 'GET', '/v1/charges/x', '', 404, '2025-01-01T08:00:01Z'),
                   ('r1', 'GET', '/v1/regulator/excess-fees', 'format=csv', 200, '2025-01-01T08:00:02Z')"""
            )
            assert "0021_access_log_chain.sql" in await apply_migrations(url)
            report = await verify_access_log(conn, VerifyingKeyring([]))
            assert report.ok and report.entries_checked == 3
            assert await conn.fetchval("SELECT key_id FROM regulator_access_log WHERE seq = 2") == "r2"
            await log_access(conn, key_id="r3", method="GET", path="/v1/regulator/violations", query="", status=200)
            assert (await verify_access_log(conn, VerifyingKeyring([]))).entries_checked == 4
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
