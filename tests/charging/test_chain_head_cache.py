"""Each gateway process keeps its offices' receipt chain heads in memory, brought forward by the head each charge's
insert returns, so an office whose requests reach different processes (as a balancer spreads them) signs each
receipt once. When another process or terminal issued a receipt between a charge's insert and its completion, the
completion statement finds the head moved (it raises inside PostgreSQL, all or nothing), and the process reads the
head again and signs on it: the charge completes once, the chain stays whole."""

from __future__ import annotations

import asyncio
import itertools

from gateway.platform import metrics
from tests.stack import charge_body, served

OFFICE = "11110001"  # terminals 10000001 (psp-mellat) and 10000002 (psp-saman)


def _retries() -> float:
    return metrics.RECEIPT_CHAIN_RETRIES._value.get()


async def _assert_chained(db, answers: list[dict]) -> None:
    signed = sorted((answer["receipt"]["receipt"] for answer in answers), key=lambda r: r["seq"])
    assert [r["seq"] for r in signed] == [signed[0]["seq"] + n for n in range(len(signed))]
    for previous, receipt in itertools.pairwise(signed):
        stored = await db.fetchval("SELECT hash FROM receipts WHERE tracking_code = $1", previous["tracking_code"])
        assert receipt["prev_hash"] == stored
    assert (
        await db.fetchval("SELECT last_seq FROM receipt_chain_heads WHERE office_id = $1", OFFICE) == signed[-1]["seq"]
    )


async def test_an_office_served_by_two_processes_in_turn_signs_each_receipt_once(
    gateway, settings, http_session, keys, db
):
    key = await keys("t:10000001")
    answers = []
    retries_before = _retries()
    async with served(settings, http_session) as other:
        for process in (gateway, other, gateway, other, gateway):
            status, answer = await process.charge(key, charge_body("10000001"))
            assert status == 201, answer
            answers.append(answer)

    assert _retries() == retries_before
    await _assert_chained(db, answers)


async def test_a_receipt_issued_between_a_charges_insert_and_its_completion_is_signed_again_on_the_moved_head(
    gateway, settings, http_session, keys, db, sims
):
    slow_key, quick_key = await keys("t:10000002"), await keys("t:10000001")
    status, first = await gateway.charge(quick_key, charge_body("10000001"))
    assert status == 201, first
    retries_before = _retries()
    await sims["psp-saman"].pin_delay("10000002", 600)
    try:
        async with served(settings, http_session) as other:
            slow = asyncio.create_task(gateway.charge(slow_key, charge_body("10000002")))
            await asyncio.sleep(0.3)  # the slow charge is stored and waits for its PIN
            status, between = await other.charge(quick_key, charge_body("10000001"))
            assert status == 201, between
            status, late = await slow
    finally:
        await sims["psp-saman"].pin_delay("10000002", 0)

    assert status == 201, late
    assert _retries() == retries_before + 1
    assert late["receipt"]["receipt"]["seq"] == between["receipt"]["receipt"]["seq"] + 1
    await _assert_chained(db, [first, between, late])
