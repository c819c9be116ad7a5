"""Looking a receipt up by its tracking code reads this month's and last month's partitions of receipts, where
nearly every look-up lands, and the older months only for a code not found there, in the same statement; in each,
through the primary key (office, sequence number), which the tracking code names. A code that is not well formed
names no receipt and costs no statement."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.complaints.store import receipt_of
from gateway.core.clock import system_clock
from gateway.core.identifiers import make_tracking_code
from gateway.platform.partitions import add_months, ensure_partitions, month_start
from gateway.receipt_book.store import get_receipt, signed_receipts
from tests.query_plans import (
    RecordingConnection,
    index_of_table,
    month_partition,
    plan_nodes,
    plan_of,
    scanned_relations,
)
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
    receipt = await get_receipt(db, charge["tracking_code"])
    old_seq = receipt["seq"] + 500_000  # a number the office has not reached
    old_code = make_tracking_code(receipt["office_id"], old_seq)
    issued = system_clock() - timedelta(days=100)
    transaction = db.transaction()
    await transaction.start()
    try:
        # A copy of the receipt as if issued a hundred days ago, under a code of its own (rolled back afterwards).
        await db.execute(
            """INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash,
                                     signed, kind)
               SELECT office_id, $4, $2, charge_id, $3, key_id, hash, prev_hash, signed, kind
               FROM receipts WHERE tracking_code = $1""",
            charge["tracking_code"],
            old_code,
            issued,
            old_seq,
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


async def test_every_look_up_by_tracking_code_goes_through_the_primary_key(gateway, keys, db, earlier_months):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=700_000))
    assert status == 201, charge
    code = charge["tracking_code"]
    recorded = RecordingConnection(db)
    await get_receipt(recorded, code)
    await signed_receipts(recorded, [code])
    assert (await receipt_of(recorded, code))["charge_id"] is not None

    indexes = await index_of_table(db)
    for sql, args in recorded.statements:
        for generic in (False, True):
            plan = await _plan_without_scans(db, sql, args, generic=generic)
            receipt_scans = [
                (node["Node Type"], indexes.get(node.get("Index Name", "")))
                for node in plan_nodes(plan)
                if node.get("Relation Name", "").startswith("receipts") and node.get("Actual Loops", 1) > 0
            ]
            assert receipt_scans and all(index == "receipts_pkey" for _, index in receipt_scans), (sql, receipt_scans)


async def _plan_without_scans(db, sql: str, args, *, generic: bool) -> dict:
    """The plan as it ran, with table scans turned off: the test database is small enough to scan, so a look-up that
    no index answers still shows as a scan of the table rather than hiding behind one."""
    mode = "force_generic_plan" if generic else "force_custom_plan"
    transaction = db.transaction()
    await transaction.start()
    try:
        await db.execute(f"SET LOCAL plan_cache_mode = {mode}")
        await db.execute("SET LOCAL enable_seqscan = off")
        await db.execute("SET LOCAL enable_bitmapscan = off")
        (plan,) = await db.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    finally:
        await transaction.rollback()
    return plan["Plan"]


async def test_a_code_that_is_not_well_formed_names_no_receipt(gateway, keys, db):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=700_000))
    assert status == 201, charge
    code = charge["tracking_code"]
    wrong_check_digit = code[:-1] + str((int(code[-1]) + 1) % 10)
    recorded = RecordingConnection(db)
    for malformed in (wrong_check_digit, code[:-1], "", "abc"):
        assert await get_receipt(recorded, malformed) is None
        assert await receipt_of(recorded, malformed) is None
    assert await signed_receipts(recorded, [wrong_check_digit, code]) == {code: charge["receipt"]}
    assert len(recorded.statements) == 1
