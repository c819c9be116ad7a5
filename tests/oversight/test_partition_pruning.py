"""An inspector's reads of one office's charges and refusals read only the months asked about: charges are
partitioned by their UUIDv7 id, which these reads bound by the time range, refusals by their time. Older months
exist, so a read that did not prune would read them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.core.clock import system_clock
from gateway.oversight import office_records, store
from gateway.platform.partitions import add_months, ensure_partitions, month_start
from tests.query_plans import RecordingConnection, month_partition, plan_of, scanned_relations
from tests.stack import charge_body

OFFICE = "11110001"


@pytest.fixture
async def earlier_months(db):
    await ensure_partitions(db, add_months(month_start(system_clock()), -8), 9)


def _months(since, until) -> set[str]:
    """The partitions a read of [since, until) may need: its months, with the day either side."""
    months, month = set(), month_start(since - timedelta(days=1))
    while month <= (until + timedelta(days=1)).date():
        months |= {month_partition("charges", month), month_partition("refusals", month)}
        month = add_months(month, 1)
    return months


@pytest.mark.parametrize("days", [1, 182])
async def test_an_office_s_charges_and_refusals_are_read_from_the_months_asked_about(
    gateway, keys, db, earlier_months, days
):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=700_000))
    assert status == 201, charge
    until = system_clock() + timedelta(minutes=1)
    since = until - timedelta(days=days)
    recorded = RecordingConnection(db)
    rows = await store.fetch(recorded, office_records.charges_query(OFFICE, since, until, None, 50))
    assert charge["id"] in {str(row["id"]) for row in rows}
    await store.fetch(recorded, office_records.refusals_query(OFFICE, since, until, None, 50))
    activity = await store.office_activity(recorded, OFFICE, since, until)
    assert activity["charges_completed"] >= 1

    allowed = _months(since, until)
    for sql, args in recorded.statements:
        for generic in (False, True):
            read = set(scanned_relations(await plan_of(db, sql, args, generic=generic), executed_only=True))
            assert read and read <= allowed, (sql, generic, read, allowed)
