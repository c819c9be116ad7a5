"""Each gateway process keeps its offices' receipt chain heads in memory. When another process has issued a receipt
for the office since, the completion statement finds the head moved (it raises inside PostgreSQL, all or nothing),
and the process reads the head again and signs the receipt on it: the charge completes once, the chain stays whole."""

from __future__ import annotations

from tests.stack import charge_body, served

TERMINAL, OFFICE = "10000001", "11110001"


async def test_a_process_whose_head_is_stale_signs_again_on_the_moved_head(gateway, settings, http_session, keys, db):
    key = await keys(f"t:{TERMINAL}")
    status, first = await gateway.charge(key, charge_body(TERMINAL))
    assert status == 201, first  # this process now holds the office's head in memory

    async with served(settings, http_session) as other:
        status, moved = await other.charge(key, charge_body(TERMINAL))
        assert status == 201, moved  # another process issued the office's next receipt

    status, third = await gateway.charge(key, charge_body(TERMINAL))

    assert status == 201, third
    signed = [answer["receipt"]["receipt"] for answer in (first, moved, third)]
    assert [r["seq"] for r in signed] == [signed[0]["seq"] + n for n in range(3)]
    moved_hash = await db.fetchval("SELECT hash FROM receipts WHERE tracking_code = $1", moved["tracking_code"])
    assert signed[2]["prev_hash"] == moved_hash
    assert (
        await db.fetchval("SELECT last_seq FROM receipt_chain_heads WHERE office_id = $1", OFFICE) == signed[2]["seq"]
    )
