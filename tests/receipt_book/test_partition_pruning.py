"""Looking a receipt up by its tracking code reads this month's and last month's partitions of receipts, where
nearly every look-up lands, and the older months only for a code not found there, in the same statement."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.core.clock import system_clock
from gateway.platform.partitions import add_months, ensure_partitions, month_start
from gateway.receipt_book.store import get_receipt, signed_receipts
from tests.query_plans import RecordingConnection, month_partition, plan_of, scanned_relations
from tests.stack import charge_body


@pytest.fixture
async def earlier_months(db):
    await ensure_partitions(db, add_months(month_start(system_clock()), -4), 5)


async def _plans_read(db, recorded: RecordingConnection) -> list[set[str]]:
    return [
        set(scanned_relations(await plan_of(db, sql, args, generic=generic), executed_only=True))
        for sql, args in recorded.statements
        for generic in (False, True)
    ]


async def test_a_recent_receipt_is_read_from_the_recent_months_only(gateway, keys, db, earlier_months):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=700_000))
    assert status == 201, charge
    code = charge["tracking_code"]
    recorded = RecordingConnection(db)
    assert (await get_receipt(recorded, code))["signed"] == charge["receipt"]
    assert await signed_receipts(recorded, [code]) == {code: charge["receipt"]}

    now = system_clock()
    recent = {month_partition("receipts", now), month_partition("receipts", add_months(month_start(now), -1))}
    for read in await _plans_read(db, recorded):
        assert read and read <= recent, read


async def test_an_older_receipt_is_found_in_the_older_months(gateway, keys, db, earlier_months):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=700_000))
    assert status == 201, charge
    old_code = charge["tracking_code"][:-1] + ("1" if charge["tracking_code"][-1] != "1" else "2")
    issued = system_clock() - timedelta(days=100)
    transaction = db.transaction()
    await transaction.start()
    try:
        # A copy of the receipt as if issued a hundred days ago, under a code of its own (rolled back afterwards).
        await db.execute(
            """INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash,
                                     signed, kind)
               SELECT office_id, seq, $2, charge_id, $3, key_id, hash, prev_hash, signed, kind
               FROM receipts WHERE tracking_code = $1""",
            charge["tracking_code"],
            old_code,
            issued,
        )
        recorded = RecordingConnection(db)
        found = await get_receipt(recorded, old_code)
        assert found is not None and found["issued_at"] == issued
        assert await signed_receipts(recorded, [charge["tracking_code"], old_code]) == {
            charge["tracking_code"]: charge["receipt"],
            old_code: charge["receipt"],
        }
        reads = await _plans_read(db, recorded)
    finally:
        await transaction.rollback()
    assert all(month_partition("receipts", issued) in read for read in reads), reads
