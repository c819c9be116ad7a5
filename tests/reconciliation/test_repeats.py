"""Rows a PSP settles more than once: the repeats of a reference are found when their file is imported, only the
first row pairs, and imports of one PSP's settlement files take turns so that every repeat is seen."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

from gateway.platform.config import PROJECT_ROOT
from gateway.platform.db import connect
from gateway.reconciliation import store
from gateway.reconciliation.importer import import_psp_file
from gateway.reconciliation.report import REPEAT_SPAN
from psp_adapters.daily_files import FileKind, header_line
from tests.reconciliation.support import charge_cap, charge_day, import_file

MIGRATION = PROJECT_ROOT / "gateway" / "platform" / "migrations" / "0189_settlement_repeats.sql"
T0 = datetime(2023, 5, 30, 8, 0, tzinfo=UTC)


def _line(rrn: str, at: datetime, payment_id: str = "220012345678902") -> str:
    return (
        f"psp-sadad,2023-06-02,IR560150679290810033907579,500000,{payment_id},{rrn},000001,10000003,"
        f"{at.isoformat().replace('+00:00', 'Z')},"
    )


async def _import(db, *lines: str) -> int:
    data = ("\n".join([header_line(FileKind.SETTLEMENT), *lines]) + "\n").encode()

    async def body() -> AsyncIterator[bytes]:
        yield data

    imported = await import_psp_file(db, body(), psp_id=None, expected_kind=None, source="t.csv", imported_by="test")
    assert imported.created
    return imported.file_id


async def _repeats(db, file_id: int) -> list[int]:
    rows = await db.fetch("SELECT line FROM psp_settlement_repeats WHERE file_id = $1 ORDER BY line", file_id)
    return [row["line"] for row in rows]


async def test_a_repeat_is_a_later_row_with_the_same_references_less_than_49_hours_apart(db):
    assert timedelta(hours=49) == REPEAT_SPAN  # what migration 0189 states for the rows kept before it
    first = await _import(
        db,
        _line("491000000001", T0),
        _line("491000000002", T0),
        _line("491000000003", T0),
        _line("491000000003", T0 + timedelta(hours=1)),  # the same references again, in the same file
        _line("491000000003", T0, payment_id="0"),  # the same purchase's other settlement row
    )
    second = await _import(
        db,
        _line("491000000001", T0 + timedelta(hours=49)),
        _line("491000000002", T0 + timedelta(hours=49) - timedelta(seconds=1)),
        _line("491000000004", T0),
    )

    assert await _repeats(db, first) == [5]
    assert await _repeats(db, second) == [3]


async def test_migration_0189_finds_the_repeats_the_importer_keeps(db):
    """The migration marks the rows kept before it by the same rule: on every row in the database, its statement
    and the importer agree."""
    await _import(db, _line("492000000001", T0), _line("492000000001", T0 + timedelta(minutes=5)))
    await _import(db, _line("492000000001", T0 + timedelta(days=1)), _line("492000000002", T0))
    backfill = re.search(r"INSERT INTO psp_settlement_repeats.*?;", MIGRATION.read_text(encoding="utf-8"), re.S)
    assert backfill is not None
    kept = await db.fetch("SELECT file_id, line FROM psp_settlement_repeats ORDER BY 1, 2")
    assert len(kept) >= 2
    trial = db.transaction()
    await trial.start()
    try:
        await db.execute("DELETE FROM psp_settlement_repeats")
        await db.execute(backfill.group(0))
        marked = await db.fetch("SELECT file_id, line FROM psp_settlement_repeats ORDER BY 1, 2")
    finally:
        await trial.rollback()  # the table stays as the importer kept it
    assert marked == kept


async def test_imports_of_one_psps_settlement_files_take_turns(db, database_url):
    other = await connect(database_url)
    try:
        async with other.transaction():
            await store.take_settlement_turn(other, "psp-sadad")
            waiting = asyncio.create_task(_import(db, _line("493000000001", T0)))
            await asyncio.sleep(0.5)
            assert not waiting.done()
        file_id = await asyncio.wait_for(waiting, 10)
    finally:
        await other.close()
    assert await db.fetchval("SELECT count(*) FROM psp_settlement_rows WHERE file_id = $1", file_id) == 1


async def test_a_row_settled_again_in_a_later_file_is_extra_and_the_first_still_pairs(gateway, keys):
    charge = await charge_cap(gateway, await keys("t:10000004"), "10000004", "op-31", "1101")
    day = charge_day(charge)
    settled_at = datetime.fromisoformat(charge["completed_at"]).astimezone(UTC).isoformat().replace("+00:00", "Z")

    def settlement(settlement_date: str, rows: list[dict]) -> bytes:
        lines = [header_line(FileKind.SETTLEMENT)] + [
            f"psp-mellat,{settlement_date},{row['iban']},{row['amount']},{row['payment_id']},{charge['rrn']},"
            f"{charge['stan']},10000004,{settled_at},"
            for row in rows
        ]
        return ("\n".join(lines) + "\n").encode()

    agency_row = next(row for row in charge["settlement_rows"] if row["payment_id"] != "0")
    admin = await keys("admin")
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    status, _ = await import_file(
        gateway, admin, "psp-mellat", "settlement", settlement(day, charge["settlement_rows"])
    )
    assert status == 201
    status, again = await import_file(gateway, admin, "psp-mellat", "settlement", settlement(next_day, [agency_row]))
    assert status == 201

    status, body = await gateway.request(
        "GET", f"/v1/reconciliation?date={day}&psp_id=psp-mellat&format=csv", key=await keys("regulator")
    )
    assert status == 200
    mine = [row for row in csv.DictReader(io.StringIO(body.decode())) if row["rrn"] == charge["rrn"]]
    assert sorted(row["kind"] for row in mine) == ["matched", "matched", "missing_at_gateway"]
    (extra,) = [row for row in mine if row["kind"] == "missing_at_gateway"]
    assert (extra["file_id"], extra["payment_id"]) == (str(again["id"]), agency_row["payment_id"])
    assert (extra["charge_id"], int(extra["difference"])) == (charge["id"], -agency_row["amount"])
