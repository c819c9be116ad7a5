"""Reads that may lag go to a real streaming replica; a terminal's own reads stay on the primary; a lagging or
vanished replica fails no request."""

from __future__ import annotations

import asyncio

from gateway.platform.db import create_pool
from gateway.platform.replica import LaggingReads
from tests.reconciliation.support import charge_cap, charge_day

TERMINAL, OPERATOR, POLICE_SERVICE = "10000002", "op-12", "2101"


async def _statement_ids(gateway, keys, day: str) -> set[str]:
    status, page = await gateway.request(
        "GET", f"/v1/agencies/police/settlements?date={day}&limit=1000", key=await keys("a:police")
    )
    assert status == 200, page
    return {row["charge_id"] for row in page["data"]}


async def test_lagging_reads_go_to_the_replica_and_to_the_primary_without_one(database_url, replica_up):
    primary = await create_pool(database_url, 2)
    with_replica = await LaggingReads.open(primary, replica_up.url, 2)
    without = await LaggingReads.open(primary, "", 2)
    try:
        assert await with_replica.fetchval("SELECT pg_is_in_recovery()") is True
        async with with_replica.acquire() as conn:
            assert await conn.fetchval("SELECT pg_is_in_recovery()") is True
        assert await without.fetchval("SELECT pg_is_in_recovery()") is False
    finally:
        await with_replica.close()
        await primary.close()


async def test_a_lagging_replica_serves_the_statement_while_the_terminal_reads_its_own_charge(
    gateway_with_replica, replica_up, keys, db
):
    gateway = gateway_with_replica
    await replica_up.pause_replay(True)
    key = await keys(f"t:{TERMINAL}")
    charge = await charge_cap(gateway, key, TERMINAL, OPERATOR, POLICE_SERVICE)
    day = charge_day(charge)

    status, own = await gateway.request("GET", f"/v1/charges/{charge['id']}", key=key)
    assert status == 200 and own["status"] == "completed"
    status, verified = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}/verify")
    assert status == 200, verified  # not on the replica yet: asked of the primary
    assert charge["id"] not in await _statement_ids(gateway, keys, day)  # the replica has not replayed it

    await replica_up.pause_replay(False)
    await replica_up.caught_up(db)
    assert charge["id"] in await _statement_ids(gateway, keys, day)


async def test_the_replica_going_away_and_coming_back_fails_no_read(gateway_with_replica, replica_up, keys, db):
    gateway = gateway_with_replica
    key = await keys(f"t:{TERMINAL}")
    charge = await charge_cap(gateway, key, TERMINAL, OPERATOR, POLICE_SERVICE)
    day = charge_day(charge)
    await replica_up.caught_up(db)
    assert charge["id"] in await _statement_ids(gateway, keys, day)  # a pooled replica connection is open now

    replica_up.stop()
    for _ in range(3):
        assert charge["id"] in await _statement_ids(gateway, keys, day)
        status, verified = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}/verify")
        assert status == 200, verified
    status, report = await gateway.request("GET", f"/v1/reconciliation?date={day}", key=await keys("regulator"))
    assert status == 200, report

    replica_up.start()
    await replica_up.until_ready()
    await asyncio.sleep(0.6)  # the replica is asked again once its retry time has passed
    assert await gateway.services.lagging_reads.fetchval("SELECT pg_is_in_recovery()") is True
