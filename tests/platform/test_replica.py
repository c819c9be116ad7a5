"""Reads that may lag go to a real streaming replica; a terminal's own reads stay on the primary; a lagging or
vanished replica fails no request."""

from __future__ import annotations

import asyncio
import random
import uuid

import pyotp

from gateway.core.text import format_rials
from gateway.people.enrolment import enrol
from gateway.people.sessions import SessionPolicy
from gateway.people.signin import SignIn, SignInPolicy
from gateway.platform.db import create_pool
from gateway.platform.replica import LaggingReads
from gateway.web.pages.signin import SESSION_COOKIE
from tests.reconciliation.support import charge_cap, charge_day
from tests.stack import charge_body

TERMINAL, OPERATOR, POLICE_SERVICE = "10000002", "op-12", "2101"
OFFICE = "11110001"


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


async def _inspector_session(gateway, db) -> str:
    """A national inspector signed in, as the sign-in pages do it: the session cookie's value."""
    username, password = f"inspector-{uuid.uuid4().hex[:8]}", "a long pass phrase"
    secret = (await enrol(db, password=password, username=username, role="regulator")).totp_secret
    svc = gateway.services
    policy = SignInPolicy(max_failures=5, lockout_s=900, session=SessionPolicy(idle_s=900, absolute_s=900))
    signin = SignIn(svc.pool, svc.redis, policy, svc.clock)
    ticket = await signin.check_password(username, password, path="/signin")
    return (await signin.check_code(ticket, pyotp.TOTP(secret).now(), path="/signin/code"))[1]


async def _seen(gateway, keys, session: str, requested: int) -> tuple[bool, bool]:
    """Whether the refused attempt for `requested` rials shows in the regulator's refusals list and on the console's
    office page."""
    status, listed = await gateway.request(
        "GET", f"/v1/regulator/offices/{OFFICE}/refusals?limit=1000", key=await keys("regulator")
    )
    assert status == 200, listed
    headers = {"Cookie": f"{SESSION_COOKIE}={session}", "Accept": "text/html"}
    async with gateway.session.get(f"{gateway.url}/console/offices/{OFFICE}", headers=headers) as response:
        assert response.status == 200
        page = await response.text()
    return any(row["requested"] == requested for row in listed["data"]), format_rials(requested) in page


async def test_the_regulator_s_lists_and_the_console_read_the_replica_and_fall_back(
    gateway_with_replica, replica_up, keys, db
):
    gateway = gateway_with_replica
    session = await _inspector_session(gateway, db)
    requested = 9_000_000 + random.randrange(1_000_000)
    await replica_up.pause_replay(True)
    body = charge_body(terminal_id=TERMINAL, operator_id=OPERATOR, service_code=POLICE_SERVICE, amount=requested)
    assert (await gateway.charge(await keys(f"t:{TERMINAL}"), body))[0] == 422
    assert await _seen(gateway, keys, session, requested) == (False, False)  # the replica has not replayed it

    await replica_up.pause_replay(False)
    await replica_up.caught_up(db)
    assert await _seen(gateway, keys, session, requested) == (True, True)

    replica_up.stop()
    assert await _seen(gateway, keys, session, requested) == (True, True)  # from the primary meanwhile


async def test_the_reconciliation_report_reads_the_replica(gateway_with_replica, replica_up, keys, db):
    gateway = gateway_with_replica
    charge = await charge_cap(gateway, await keys(f"t:{TERMINAL}"), TERMINAL, OPERATOR, POLICE_SERVICE)
    day = charge_day(charge)
    await replica_up.caught_up(db)
    regulator = await keys("regulator")
    status, report = await gateway.request("GET", f"/v1/reconciliation?date={day}", key=regulator)
    assert status == 200, report
    assert report["totals"]["by_kind"]["missing_at_psp"]["rows"] >= len(charge["settlement_rows"])
    status, rows = await gateway.request("GET", f"/v1/reconciliation?date={day}&format=csv", key=regulator)
    assert status == 200 and charge["rrn"].encode() in rows
