"""The day totals the overview reads always equal the findings themselves: added by the statement that records
findings, and gone with it when it rolls back; a finding set aside by an upheld objection moves to `set_aside` in
the decision's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.oversight import objections
from tests.oversight.support import detect, recipient
from tests.stack import charge_body

# A finding set aside by an upheld objection is counted apart, in `set_aside` only.
RECOUNT = """
SELECT office_id, (occurred_at AT TIME ZONE 'Asia/Tehran')::date AS day, type,
       count(*) FILTER (WHERE set_aside_at IS NULL)::int AS findings,
       coalesce(sum(amount) FILTER (WHERE set_aside_at IS NULL), 0)::bigint AS amount,
       coalesce(sum(excess) FILTER (WHERE set_aside_at IS NULL), 0)::bigint AS excess,
       count(*) FILTER (WHERE set_aside_at IS NOT NULL)::int AS set_aside
FROM violations GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
TOTALS = "SELECT office_id, day, type, findings, amount, excess, set_aside FROM finding_day_totals ORDER BY 1, 2, 3"


async def test_detection_keeps_the_day_totals_equal_to_the_findings(gateway, keys, db):
    since = datetime.now(UTC) - timedelta(seconds=1)
    terminal = await keys("t:10000004")
    for amount in (1_500_000, 2_500_000):
        body = charge_body(terminal_id="10000004", operator_id="op-31", recipient=recipient(), amount=amount)
        assert (await gateway.charge(terminal, body))[0] == 422
    before = await db.fetchval("SELECT coalesce(sum(findings), 0) FROM finding_day_totals")
    found = await detect(gateway, db, since)
    assert found.get("excess_fee", 0) >= 2
    assert await db.fetchval("SELECT sum(findings) FROM finding_day_totals") == before + sum(found.values())
    assert [dict(r) for r in await db.fetch(TOTALS)] == [dict(r) for r in await db.fetch(RECOUNT)]


async def test_findings_rolled_back_leave_no_totals(db):
    before = [dict(r) for r in await db.fetch(TOTALS)]
    transaction = db.transaction()
    await transaction.start()
    await db.execute(
        """INSERT INTO violations (office_id, type, evidence_key, evidence, occurred_at, amount, excess)
           VALUES ('31110003', 'cash_payment', 'rolled-back', '{}', now(), 100, NULL)"""
    )
    assert [dict(r) for r in await db.fetch(TOTALS)] != before
    await transaction.rollback()
    assert [dict(r) for r in await db.fetch(TOTALS)] == before


async def test_an_upheld_objection_moves_its_finding_out_of_the_counted_totals(gateway, keys, db):
    since = datetime.now(UTC) - timedelta(seconds=1)
    body = charge_body(terminal_id="10000004", operator_id="op-31", recipient=recipient(), amount=3_500_000)
    assert (await gateway.charge(await keys("t:10000004"), body))[0] == 422
    await detect(gateway, db, since)
    await objections.notify_new_findings(db, datetime.now(UTC))
    finding = await db.fetchrow("SELECT * FROM violations WHERE office_id = '31110003' ORDER BY id DESC LIMIT 1")
    day = "SELECT findings, excess, set_aside FROM finding_day_totals WHERE office_id = $1 AND type = $2 AND day = $3"
    day_args = (
        finding["office_id"],
        finding["type"],
        await db.fetchval("SELECT ($1 AT TIME ZONE 'Asia/Tehran')::date", finding["occurred_at"]),
    )
    before = await db.fetchrow(day, *day_args)

    transaction = db.transaction()
    await transaction.start()
    await db.execute("UPDATE violations SET set_aside_at = now() WHERE id = $1", finding["id"])
    assert (await db.fetchrow(day, *day_args))["set_aside"] == before["set_aside"] + 1
    await transaction.rollback()
    assert await db.fetchrow(day, *day_args) == before

    objection_id = await objections.file_objection(
        gateway.services.pool,
        violation_id=finding["id"],
        office_id=finding["office_id"],
        username="manager",
        text="اعتراض",
        uploads=[],
        now=datetime.now(UTC),
    )
    await objections.decide(
        gateway.services.pool,
        objection_id=objection_id,
        office_ids=[finding["office_id"]],
        upheld=True,
        reason="پذیرفته شد",
        username="inspector",
        now=datetime.now(UTC),
    )
    after = await db.fetchrow(day, *day_args)
    assert after["findings"] == before["findings"] - 1
    assert after["excess"] == before["excess"] - finding["excess"]
    assert after["set_aside"] == before["set_aside"] + 1
    assert [dict(r) for r in await db.fetch(TOTALS)] == [dict(r) for r in await db.fetch(RECOUNT)]
