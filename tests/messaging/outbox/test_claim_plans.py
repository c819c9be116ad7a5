"""A claim's generic plan made on a new month (nearly empty and never analyzed, as every month starts) finds the
claimed rows in that month by index, and goes on doing so once the month has filled: a prepared statement keeps its
generic plan until an ANALYZE of the month, so a plan that read the month whole while it was nearly empty would read
the filled month whole on every claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.clock import system_clock
from gateway.messaging.outbox import store
from gateway.platform.partitions import add_months, ensure_partitions, month_start
from tests.query_plans import index_of_table, month_partition, plan_nodes

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
FILLED = 5000

# Each claim, the index of the messages due to it, and the state that makes a message due to it ($1 the message's
# created_at, $2 a time long past).
DUE = {
    "sends": (
        store.CLAIM_DUE_MESSAGES,
        "outbox_pending",
        "status = 'pending', next_attempt_at = $2",
    ),
    "reports": (
        store.CLAIM_DUE_REPORTS,
        "outbox_awaiting_report",
        "status = 'sent', next_attempt_at = $1, next_poll_at = $2",
    ),
}


async def _add_due_messages(db, count: int, created_at: datetime, state: str) -> None:
    await db.execute(
        """INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at, updated_at,
                               next_attempt_at)
           SELECT '11110001', gen_random_uuid(), 'sms', 'claim-plan-' || gen_random_uuid(), '09120000000', '{}',
                  $2, $2, $2
           FROM generate_series(1, $1)""",
        count,
        created_at,
    )
    await db.execute(
        f"UPDATE outbox SET {state} WHERE created_at = $1 AND message_id LIKE 'claim-plan-%'",
        created_at,
        LONG_AGO,
    )


@pytest.mark.parametrize("claim", sorted(DUE))
async def test_a_claim_reads_a_month_filled_after_its_plan_was_made_by_index(db, claim):
    sql, due_index, state = DUE[claim]
    now = system_clock()
    month = add_months(month_start(now), 3)  # the last month created ahead: nothing else writes to it
    await ensure_partitions(db, now, 3)
    partition = month_partition("outbox", month)
    created_at = datetime(month.year, month.month, 10, tzinfo=UTC)
    execute = f"EXECUTE claim('{now.isoformat()}', '{(now + timedelta(minutes=1)).isoformat()}', 100)"

    transaction = db.transaction()
    await transaction.start()
    await db.execute(f"PREPARE claim AS {sql}")
    try:
        await db.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await _add_due_messages(db, 1, created_at, state)
        # The generic plan is made now, on the nearly empty month, and kept: filling the month does not replan it.
        await db.fetchval(f"EXPLAIN (FORMAT JSON) {execute}")
        await _add_due_messages(db, FILLED, created_at, state)
        (plan,) = await db.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {execute}")
    finally:
        await transaction.rollback()
        await db.execute("DEALLOCATE claim")

    index_of = await index_of_table(db)
    scans = [
        index_of.get(node.get("Index Name", ""), node["Node Type"])
        for node in plan_nodes(plan["Plan"])
        if node.get("Relation Name") == partition and node.get("Actual Loops", 1) > 0
    ]
    # The month's due messages through their index, the claimed ones through the primary key: nothing read whole.
    assert sorted(scans) == sorted([due_index, "outbox_pkey"]), (claim, scans)
