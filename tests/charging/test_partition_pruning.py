"""Each statement of the charge path (and a void's or refund's read of the charge's receipt) reads only the month
partitions of the charge it is about (charges by their UUIDv7 id, the receipt by its issue time), in the custom plan
and in the generic plan a prepared statement settles on. Older and later months exist, so a statement that did not
prune would read them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from gateway.charging import store, way_back_store
from gateway.charging.service import uuid7_time
from gateway.core.clock import system_clock
from gateway.platform.partitions import add_months, ensure_partitions, month_start
from tests.query_plans import RecordingConnection, month_partition, plan_of, scanned_relations
from tests.stack import charge_body


@pytest.fixture
async def earlier_months(db):
    now = system_clock()
    await ensure_partitions(db, add_months(month_start(now), -4), 6)


async def test_the_charge_path_reads_only_its_charge_s_month(gateway, keys, db, earlier_months):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=650_000))
    assert status == 201, charge
    charge_id = uuid.UUID(charge["id"])
    stored = await store.get_charge(db, charge_id)
    assert stored is not None
    recorded = RecordingConnection(db)
    await store.charge_status(recorded, charge_id)
    await store.get_charge(recorded, charge_id)
    await store.postpone_recovery(recorded, charge_id, epoch=stored.claim_epoch, next_at=system_clock(), note="-")
    await store.save_move(recorded, stored, at=system_clock())
    completion = store.Completion(
        charge_id=charge_id,
        rrn=stored.rrn,
        auth_code=stored.auth_code,
        masked_pan=stored.masked_pan,
        completed_at=system_clock(),
        tracking_code=stored.tracking_code or "",
        seq=1,
        receipt_hash="0" * 64,
        prev_hash="0" * 64,
        key_id="k",
        signed_receipt={},
        messages=[],
        epoch=stored.claim_epoch,
        next_settle_at=None,
    )
    await store.complete_charges(recorded, [completion])
    await way_back_store.original_receipt(recorded, stored.office_id, charge_id, stored.completed_at)
    assert len(recorded.statements) == 6

    made_at = datetime.fromtimestamp(uuid7_time(charge_id) or 0, UTC)
    own_month = {month_partition("charges", made_at), month_partition("receipts", stored.completed_at)}
    for sql, args in recorded.statements:
        for generic in (False, True):
            read = set(scanned_relations(await plan_of(db, sql, args, generic=generic), executed_only=True))
            partitions = {name for name in read if name.startswith(("charges_", "receipts_"))}
            assert partitions and partitions <= own_month, (sql, generic, read)
            assert read.isdisjoint({"charges", "receipts"}), read
