"""A finding set aside by an upheld objection: the regulator's lists still show it, marked with the objection, and
every count and sum leaves it out (the excess-fee summary counts it apart)."""

from __future__ import annotations

import csv
import io

from gateway.oversight import objections
from tests.oversight.support import detect, recipient, utcnow
from tests.stack import charge_body

OFFICE, TERMINAL, OPERATOR = "51110005", "10000006", "op-51"


async def _two_refused_findings(gateway, keys, db) -> list[int]:
    since = utcnow()
    for amount in (2_000_000, 2_400_000):
        body = charge_body(terminal_id=TERMINAL, operator_id=OPERATOR, recipient=recipient(), amount=amount)
        assert (await gateway.charge(await keys(f"t:{TERMINAL}"), body))[0] == 422
    await detect(gateway, db, since)
    await objections.notify_new_findings(db, utcnow())
    rows = await db.fetch(
        "SELECT id FROM violations WHERE office_id = $1 AND occurred_at >= $2 ORDER BY id", OFFICE, since
    )
    return [row["id"] for row in rows]


async def _uphold(gateway, finding_id: int) -> int:
    pool = gateway.services.pool
    objection_id = await objections.file_objection(
        pool, violation_id=finding_id, office_id=OFFICE, username="manager", text="اعتراض", uploads=[], now=utcnow()
    )
    await objections.decide(
        pool,
        objection_id=objection_id,
        office_ids=[OFFICE],
        upheld=True,
        reason="مستندات پذیرفته شد",
        username="inspector",
        now=utcnow(),
    )
    return objection_id


async def test_a_set_aside_finding_is_marked_in_the_lists_and_left_out_of_the_counts(gateway, keys, db):
    kept, set_aside = await _two_refused_findings(gateway, keys, db)
    regulator = await keys("regulator")
    query = f"office_id={OFFICE}&limit=1000"
    status, before = await gateway.request("GET", f"/v1/regulator/excess-fees?{query}", key=regulator)
    assert status == 200
    status, offices_before = await gateway.request("GET", f"/v1/regulator/offices?office_id={OFFICE}", key=regulator)
    objection_id = await _uphold(gateway, set_aside)

    status, listed = await gateway.request("GET", f"/v1/regulator/violations?{query}", key=regulator)
    assert status == 200
    by_id = {row["id"]: row for row in listed["data"]}
    assert by_id[set_aside]["set_aside"] is True
    assert by_id[set_aside]["set_aside_objection_id"] == objection_id
    assert by_id[set_aside]["set_aside_at"] is not None
    assert by_id[kept]["set_aside"] is False and by_id[kept]["set_aside_objection_id"] is None

    status, exported = await gateway.request("GET", f"/v1/regulator/violations?{query}&format=csv", key=regulator)
    rows = {int(row["id"]): row for row in csv.DictReader(io.StringIO(exported.decode()))}
    assert rows[set_aside]["set_aside"] == "True" and rows[set_aside]["set_aside_objection_id"] == str(objection_id)

    status, after = await gateway.request("GET", f"/v1/regulator/excess-fees?{query}", key=regulator)
    assert sum(r["findings"] for r in after["data"]) == sum(r["findings"] for r in before["data"]) - 1
    assert sum(r["excess_fee"] for r in after["data"]) == sum(r["excess_fee"] for r in before["data"]) - 1
    assert sum(r["set_aside"] for r in after["data"]) == sum(r["set_aside"] for r in before["data"]) + 1
    excess = by_id[set_aside]["excess"]
    assert (
        sum(r["refused_over_cap"] for r in after["data"]) == sum(r["refused_over_cap"] for r in before["data"]) - excess
    )

    status, offices_after = await gateway.request("GET", f"/v1/regulator/offices?office_id={OFFICE}", key=regulator)
    assert offices_after["data"][0]["findings"] == offices_before["data"][0]["findings"] - 1
