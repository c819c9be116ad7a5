"""The connection pool: one round trip per statement (no reset query on release), a transaction left open still
rolled back, JSON values sent and read in binary form unchanged, and the completions' pool planning each statement
once."""

from __future__ import annotations

import uuid

import pytest

from gateway.charging.group_commit import open_completion_pool
from gateway.platform.db import connect, create_pool


@pytest.fixture
async def one_connection_pool(database_url):
    pool = await create_pool(database_url, 1)
    yield pool
    await pool.close()


async def test_a_statement_through_the_pool_is_the_only_query_its_connection_runs(one_connection_pool):
    sent: list[str] = []
    async with one_connection_pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
    await one_connection_pool.fetchval("SELECT 1")
    await one_connection_pool.fetchval("SELECT 2")
    async with one_connection_pool.acquire() as conn:
        await conn.fetchval("SELECT 3")
    assert sent == ["SELECT 1", "SELECT 2", "SELECT 3"]


async def test_a_transaction_left_open_is_rolled_back_on_release(one_connection_pool):
    async with one_connection_pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE left_open (n int)")
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO left_open VALUES (1)")
    async with one_connection_pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM left_open") == 0


@pytest.mark.parametrize(
    "value",
    [
        {"متن": "رسید پرداخت ۱۲۳", "amount": 700_000, "nested": [1, 2.5, None, True, {"a": "\u200c"}]},
        [],
        "just a string",
        0,
        None,
    ],
)
async def test_json_values_survive_the_binary_codec(database_url, value):
    conn = await connect(database_url)
    try:
        assert await conn.fetchval("SELECT $1::jsonb", value) == value
        assert await conn.fetchval("SELECT $1::json", value) == value
        if value is not None:
            assert await conn.fetchval("SELECT ($1::jsonb)::text::jsonb = $1::jsonb", value)
    finally:
        await conn.close()


@pytest.mark.parametrize(("pool_for", "plans"), [("completions", (3, 0)), ("everything else", (0, 3))])
async def test_the_completions_pool_plans_each_statement_once(database_url, pool_for, plans):
    """A prepared statement gets a plan of its own for each call's arguments (custom plans, the first five calls at
    least), except on the completions' pool, made for generic plans."""
    if pool_for == "completions":
        pool = await open_completion_pool(database_url)
    else:
        pool = await create_pool(database_url, 1)
    try:
        async with pool.acquire() as conn:
            for _ in range(3):
                await conn.fetchval(
                    "SELECT count(*) FROM charges WHERE id BETWEEN $1 AND $2", uuid.uuid4(), uuid.uuid4()
                )
            made = await conn.fetchrow(
                """SELECT generic_plans, custom_plans FROM pg_prepared_statements
                   WHERE statement LIKE '%FROM charges%' AND statement NOT LIKE '%pg_prepared_statements%'"""
            )
    finally:
        await pool.close()
    assert (made["generic_plans"], made["custom_plans"]) == plans
