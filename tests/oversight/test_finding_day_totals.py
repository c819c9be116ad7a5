"""The day totals the overview reads always equal the findings themselves: added by the statement that records
findings, and gone with it when it rolls back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.oversight.support import detect, recipient
from tests.stack import charge_body

RECOUNT = """
SELECT office_id, (occurred_at AT TIME ZONE 'Asia/Tehran')::date AS day, type, count(*)::int AS findings,
       coalesce(sum(amount), 0)::bigint AS amount, coalesce(sum(excess), 0)::bigint AS excess
FROM violations GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
TOTALS = "SELECT office_id, day, type, findings, amount, excess FROM finding_day_totals ORDER BY 1, 2, 3"


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
