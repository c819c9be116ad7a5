"""The separate settle call's schedule (settle_calls) against PostgreSQL: claimed under a lease and due again when a
killed worker's lease ends, settled once whoever reports last, retried with a growing attempt count, left alone
while a void is under way, and its statements read only the claimed charges' months. Each test's rows are rolled
back, and its settle calls fall due in 1990, before any other test's, so what a claim takes is its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.charging import store
from gateway.charging.service import uuid7_time
from gateway.charging.settle_worker import LEASE
from gateway.core.clock import system_clock
from gateway.platform.partitions import add_months, ensure_partitions, month_start
from tests.charging.support import LONG_AGO, completed_with_settle_call
from tests.query_plans import RecordingConnection, month_partition, plan_of, scanned_relations

SECOND = timedelta(seconds=1)


async def _claim(db, at: datetime) -> list[store.DueSettlement]:
    return await store.claim_due_settlements(db, at, at + LEASE, 100)


async def test_a_killed_worker_s_settle_call_is_due_again_when_its_lease_ends_and_settled_once(rolled_back):
    charge_id = await completed_with_settle_call(rolled_back, LONG_AGO)

    first = await _claim(rolled_back, LONG_AGO)
    assert [(item.charge.id, item.attempts) for item in first] == [(charge_id, 0)]
    assert first[0].charge.status.value == "completed"
    assert await _claim(rolled_back, LONG_AGO + LEASE - SECOND) == []  # held by the first worker's lease
    # The first worker is killed before it reports: when its lease ends another worker claims the call.
    second = await _claim(rolled_back, LONG_AGO + LEASE)
    assert [item.charge.id for item in second] == [charge_id]

    settled_at = LONG_AGO + LEASE + SECOND
    await store.record_settlements(rolled_back, [charge_id], settled_at, [])
    # A late report of the same call (an overrun lease) changes nothing.
    await store.record_settlements(rolled_back, [charge_id], settled_at + LEASE, [])
    assert await rolled_back.fetchval("SELECT settled_at FROM charges WHERE id = $1", charge_id) == settled_at
    assert await rolled_back.fetchval("SELECT count(*) FROM settle_calls WHERE charge_id = $1", charge_id) == 0
    assert await _claim(rolled_back, LONG_AGO + 10 * LEASE) == []


async def test_an_unapproved_settle_call_is_retried_later_with_its_attempts_counted(rolled_back):
    charge_id = await completed_with_settle_call(rolled_back, LONG_AGO)
    assert len(await _claim(rolled_back, LONG_AGO)) == 1
    retry_at = LONG_AGO + 3 * LEASE
    await store.record_settlements(rolled_back, [], LONG_AGO, [(charge_id, retry_at, "settle: no_answer")])

    call = await rolled_back.fetchrow(
        "SELECT next_at, attempts, last_note FROM settle_calls WHERE charge_id = $1", charge_id
    )
    assert dict(call) == {"next_at": retry_at, "attempts": 1, "last_note": "settle: no_answer"}
    assert await rolled_back.fetchval("SELECT settled_at FROM charges WHERE id = $1", charge_id) is None
    assert await _claim(rolled_back, retry_at - SECOND) == []
    assert [(item.charge.id, item.attempts) for item in await _claim(rolled_back, retry_at)] == [(charge_id, 1)]


_VOID = """
INSERT INTO voids (id, charge_id, office_id, psp_id, amount, reason, reason_text, requested_by, status,
                   window_closes_at, created_at)
SELECT $1, id, office_id, psp_id, amount, 'r', 'r', 'k', $2, now(), now() FROM charges WHERE id = $3
"""


@pytest.mark.parametrize(("void_status", "claimed"), [("sent", False), ("refused", True)])
async def test_a_settle_call_waits_while_its_charge_s_void_is_under_way(rolled_back, void_status, claimed):
    charge_id = await completed_with_settle_call(rolled_back, LONG_AGO)
    await rolled_back.execute(_VOID, uuid.uuid4(), void_status, charge_id)
    assert [item.charge.id for item in await _claim(rolled_back, LONG_AGO)] == ([charge_id] if claimed else [])


async def _statement_of(db, send) -> tuple[str, tuple]:
    """The one statement `send` makes, with its arguments; what it wrote is rolled back."""
    recorded = RecordingConnection(db)
    transaction = db.transaction()
    await transaction.start()
    try:
        await send(recorded)
    finally:
        await transaction.rollback()
    (statement,) = recorded.statements
    return statement


@pytest.fixture
async def earlier_months(db):
    await ensure_partitions(db, add_months(month_start(system_clock()), -4), 6)


async def test_the_settle_statements_read_only_the_claimed_charges_month(earlier_months, rolled_back):
    charge_id = await completed_with_settle_call(rolled_back, LONG_AGO)
    statements = [
        await _statement_of(rolled_back, lambda db: _claim(db, LONG_AGO)),
        await _statement_of(rolled_back, lambda db: store.record_settlements(db, [charge_id], LONG_AGO, [])),
    ]
    own_month = month_partition("charges", datetime.fromtimestamp(uuid7_time(charge_id) or 0, UTC))
    for sql, args in statements:
        for generic in (False, True):
            read = set(scanned_relations(await plan_of(rolled_back, sql, args, generic=generic), executed_only=True))
            assert {name for name in read if name.startswith("charges")} == {own_month}, (sql, generic, read)
