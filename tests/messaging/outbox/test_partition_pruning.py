"""Every write of the dispatcher and the delivery-report poller after a claim reads only the month partition of the
message it is about (by the created_at the claim carried), and the look-up of a charge's messages only the months
from its completion to today, in the custom plan and in the generic plan a prepared statement settles on. A claim
names no month: it reads each month's partial index of due messages, and the claimed rows in their own months
alone. Older and later months exist, so a statement that did not prune would read them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.clock import system_clock
from gateway.messaging.outbox import store
from gateway.platform.partitions import add_months, ensure_partitions, month_start
from tests.query_plans import RecordingConnection, index_of_table, month_partition, plan_nodes, plan_of

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # before any real message: a claim of one row takes this one


@pytest.fixture
async def earlier_message(db):
    """A message of three months ago, due before any other (so a claim of one row takes it), removed afterwards."""
    now = system_clock()
    await ensure_partitions(db, add_months(month_start(now), -4), 6)
    created_at = now.replace(day=10) - timedelta(days=90)
    charge_id, message_id = uuid.uuid4(), f"plan-{uuid.uuid4().hex}"
    await db.execute(
        """INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at, updated_at,
                               next_attempt_at)
           VALUES ('11110001', $1, 'sms', $2, '09120000000', '{}', $3, $3, $4)""",
        charge_id,
        message_id,
        created_at,
        LONG_AGO,
    )
    yield charge_id, created_at
    await db.execute("DELETE FROM outbox WHERE message_id = $1 AND created_at = $2", message_id, created_at)


async def _set_state(db, charge_id, *, lease_until, next_poll_at) -> None:
    """Puts the message back where each statement finds it: claimed, due to send, and due to poll (or polled under
    the lease)."""
    await db.execute(
        """UPDATE outbox SET status = 'pending', attempts = 1, claimed_until = $2, next_attempt_at = $4,
                             next_poll_at = $3
           WHERE charge_id = $1""",
        charge_id,
        lease_until,
        next_poll_at,
        LONG_AGO,
    )


def _outbox_scans(plan: dict, index_of: dict[str, str]) -> list[tuple[str, str | None]]:
    """(partition, the partitioned table's index it read or None) of every outbox scan that ran."""
    return [
        (node["Relation Name"], index_of.get(node.get("Index Name", "")))
        for node in plan_nodes(plan)
        if node.get("Relation Name", "").startswith("outbox_")
        and node["Node Type"] != "ModifyTable"
        and node.get("Actual Loops", 1) > 0
    ]


async def test_after_a_claim_every_write_reads_only_the_message_s_month(db, earlier_message):
    charge_id, created_at = earlier_message
    now = system_clock()
    lease_until = now + timedelta(minutes=1)
    recorded = RecordingConnection(db)
    due_to_poll = {}  # statement number -> next_poll_at the statement needs

    [message] = await store.claim_due_messages(recorded, now, lease_until, 1)
    assert (message.charge_id, message.created_at) == (charge_id, created_at)
    await _set_state(db, charge_id, lease_until=lease_until, next_poll_at=lease_until)
    assert await store.record_retry(recorded, message, now, "timeout", now)
    await _set_state(db, charge_id, lease_until=lease_until, next_poll_at=lease_until)
    assert await store.record_given_up(recorded, message, "failed", "refused", now)
    await _set_state(db, charge_id, lease_until=lease_until, next_poll_at=lease_until)
    assert await store.record_accepted(recorded, [store.Acceptance(message, "p-1", lease_until)], now) == {message.id}
    await _set_state(db, charge_id, lease_until=lease_until, next_poll_at=LONG_AGO)
    due_to_poll[len(recorded.statements)] = LONG_AGO
    [report] = await store.claim_due_reports(recorded, now, lease_until, 1)
    assert report.created_at == created_at
    update = store.ReportUpdate(report.id, report.created_at, "delivered", "delivered", None)
    assert await store.record_reports(recorded, [update], lease_until, now) == {message.id}
    assert len(await store.messages_of_charge(recorded, charge_id, created_at)) == 1
    claims = {0, 4}
    assert len(recorded.statements) == 7

    index_of = await index_of_table(db)
    own = month_partition("outbox", created_at)
    since_then, month = set(), month_start(created_at)
    while month <= month_start(now + timedelta(days=1)):
        since_then.add(month_partition("outbox", month))
        month = add_months(month, 1)
    for number, (sql, args) in enumerate(recorded.statements):
        for generic in (False, True):
            await _set_state(db, charge_id, lease_until=lease_until, next_poll_at=due_to_poll.get(number, lease_until))
            scans = _outbox_scans(await plan_of(db, sql, args, generic=generic), index_of)
            read = {partition for partition, _ in scans}
            if number in claims:
                # The due messages of every month through their partial index; the claimed row in its month alone.
                due = ("outbox_pending", "outbox_awaiting_report")
                by_key = {partition for partition, index in scans if index not in due}
                assert by_key == {own}, (sql, generic, scans)
                assert all(index is not None for _, index in scans), (sql, generic, scans)
            elif number == 6:
                assert own in read and read <= since_then, (sql, generic, scans)
            else:
                assert read == {own}, (sql, generic, scans)
