"""The probe that spares an idle gateway its claim passes: it sees exactly the passes with a row due, and the loop
runs those passes alone, again at once while their claims come back full. Each test's rows are rolled back, and it
probes at instants before any other test's rows fall due (1990), so what it sees is its own."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from gateway.charging.due_passes import _PROBE, due_work, run_due_passes
from loadtests.charge_cost import new_charge
from tests.charging.support import LONG_AGO, completed_with_settle_call, stored
from tests.query_plans import index_of_table, plan_nodes

SECOND = timedelta(seconds=1)


async def _pending_charge_due_at(db, due_at: datetime) -> None:
    await stored(db, new_charge(office=1, now=datetime.now(UTC), next_recovery_at=due_at))


async def test_nothing_due_is_an_empty_answer(rolled_back):
    await _pending_charge_due_at(rolled_back, LONG_AGO)
    assert await due_work(rolled_back, LONG_AGO - SECOND) == set()


async def test_a_pending_charge_is_due_once_its_recovery_time_has_come(rolled_back):
    await _pending_charge_due_at(rolled_back, LONG_AGO)
    assert await due_work(rolled_back, LONG_AGO) == {"charges"}


async def test_a_completed_charge_is_due_for_its_settle_call_once_its_time_has_come(rolled_back):
    await completed_with_settle_call(rolled_back, LONG_AGO)
    assert await due_work(rolled_back, LONG_AGO - SECOND) == set()
    assert await due_work(rolled_back, LONG_AGO) == {"settlements"}


class CountingPass:
    """Stands for a claim pass: claims `batch` rows a number of times, then none."""

    def __init__(self, full_batches: int, batch: int = 10) -> None:
        self.batch = batch
        self.full_batches = full_batches
        self.runs = 0

    async def run_once(self) -> int:
        self.runs += 1
        return self.batch if self.runs <= self.full_batches else 0


async def test_the_loop_runs_only_the_due_passes_and_repeats_them_while_full(rolled_back):
    await _pending_charge_due_at(rolled_back, LONG_AGO)
    charges, voids, refunds, settlements = CountingPass(2), CountingPass(0), CountingPass(0), CountingPass(0)
    passes = {"charges": charges, "voids": voids, "refunds": refunds, "settlements": settlements}
    loop = asyncio.create_task(run_due_passes(rolled_back, passes, interval=60, clock=lambda: LONG_AGO))
    try:
        async with asyncio.timeout(10):
            while charges.runs < 3:
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert (charges.runs, voids.runs, refunds.runs, settlements.runs) == (3, 0, 0, 0)


async def test_the_probe_reads_each_table_s_index_of_due_rows_in_the_generic_plan(db):
    """The probe runs every few seconds on tables of millions of rows: each of its four questions must be one look
    into an index, the recovery questions into their partial index of due rows, in the generic plan a prepared
    statement settles on too (the statuses are in the statement, not bound). The test database is small enough to
    scan, so scans are turned off: a question no index can answer still shows as a scan of the table."""
    async with db.transaction():
        await db.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await db.execute("SET LOCAL enable_seqscan = off")
        await db.execute("SET LOCAL enable_bitmapscan = off")
        (plan,) = await db.fetchval(f"EXPLAIN (FORMAT JSON) {_PROBE}", datetime.now(UTC))
    indexes = await index_of_table(db)
    scans = [(node["Node Type"], indexes.get(node.get("Index Name", ""))) for node in plan_nodes(plan["Plan"])]
    scans = [(kind, index) for kind, index in scans if kind.endswith("Scan")]
    assert scans and all(index is not None for _, index in scans), scans
    assert {"charges_pending", "voids_recovery_due", "refunds_recovery_due", "settle_calls_due"} <= {
        index for _, index in scans
    }, scans


async def test_the_loop_leaves_alone_what_it_was_not_given(rolled_back):
    """A loop given the charges' pass alone (a process that runs only recovery) is not stopped by a due settle call."""
    charge = new_charge(office=1, now=datetime.now(UTC), next_recovery_at=LONG_AGO)
    await stored(rolled_back, charge)
    await completed_with_settle_call(rolled_back, LONG_AGO)
    charges = CountingPass(0)
    loop = asyncio.create_task(run_due_passes(rolled_back, {"charges": charges}, interval=0.01, clock=lambda: LONG_AGO))
    try:
        async with asyncio.timeout(10):
            while charges.runs < 2:
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


class StuckPass(CountingPass):
    """A pass whose claims hang, as behind a PSP that does not answer."""

    async def run_once(self) -> int:
        self.runs += 1
        await asyncio.Event().wait()
        return 0


async def test_a_stuck_pass_holds_no_other_back_and_is_not_started_twice(rolled_back):
    await _pending_charge_due_at(rolled_back, LONG_AGO)
    await completed_with_settle_call(rolled_back, LONG_AGO)
    charges, settlements = StuckPass(0), CountingPass(0)
    passes = {"charges": charges, "settlements": settlements}
    loop = asyncio.create_task(run_due_passes(rolled_back, passes, interval=0.01, clock=lambda: LONG_AGO))
    try:
        async with asyncio.timeout(10):
            while settlements.runs < 3:
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert charges.runs == 1
