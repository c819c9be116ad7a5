"""Importing PSP files: all or nothing, idempotent by digest, over HTTP and from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest

from gateway.reconciliation.importer import import_psp_file
from psp_adapters.daily_files import FileKind, header_line
from tests.reconciliation.support import charge_cap, charge_day, daily_file, import_file

PISHKHAN = [sys.executable, "-m", "gateway.cli"]


async def _sadad_day(gateway, keys, psp_hosts, http_session) -> tuple[str, bytes, bytes]:
    """Two charges on psp-sadad's terminal, and that PSP's settlement file and terminal feed of the day."""
    key = await keys("t:10000003")
    charge = await charge_cap(gateway, key, "10000003", "op-21", "1101")
    await charge_cap(gateway, key, "10000003", "op-21", "3102")
    day = charge_day(charge)
    host = psp_hosts["psp-sadad"]
    return (
        day,
        await daily_file(http_session, host, "settlement", day),
        await daily_file(http_session, host, "terminal_feed", day),
    )


@pytest.fixture(scope="module")
async def sadad_files(gateway, keys, psp_hosts, http_session) -> tuple[str, bytes, bytes]:
    return await _sadad_day(gateway, keys, psp_hosts, http_session)


async def _counts(db) -> tuple:
    return (
        await db.fetchval("SELECT count(*) FROM psp_files"),
        await db.fetchval("SELECT count(*) FROM psp_settlement_rows"),
        await db.fetchval("SELECT count(*) FROM offbook_transactions"),
    )


async def test_importing_the_same_file_again_changes_nothing(gateway, keys, sadad_files, db):
    day, settlement, feed = sadad_files
    admin = await keys("admin")
    status, first = await import_file(gateway, admin, "psp-sadad", "settlement", settlement)
    assert status == 201 and first["created"] and first["rows"] >= 3 and first["bytes"] == len(settlement)
    before = await _counts(db)
    _, report_before = await gateway.request("GET", f"/v1/reconciliation?date={day}", key=admin)

    status, again = await import_file(gateway, admin, "psp-sadad", "settlement", settlement)

    assert status == 200 and not again["created"]
    assert {k: v for k, v in again.items() if k != "created"} == {k: v for k, v in first.items() if k != "created"}
    assert await _counts(db) == before
    _, report_after = await gateway.request("GET", f"/v1/reconciliation?date={day}", key=admin)
    assert report_after == report_before
    status, imported_feed = await import_file(gateway, admin, "psp-sadad", "terminal_feed", feed)
    assert status == 201
    status, _ = await import_file(gateway, admin, "psp-sadad", "terminal_feed", feed)
    assert (
        status == 200
        and await db.fetchval("SELECT count(*) FROM psp_files WHERE digest = $1", imported_feed["digest"]) == 1
    )


def _field(index: int, value: str):
    return lambda line: ",".join(value if i == index else field for i, field in enumerate(line.split(",")))


@pytest.mark.parametrize(
    ("line_3", "problem"),
    [
        (_field(2, "IR000000000000000000000000"), "iban"),
        (_field(0, "psp-saman"), "psp_id"),
        (_field(3, "0"), "amount"),
        (lambda line: line.rsplit(",", 2)[0], "fields expected"),
    ],
)
async def test_a_malformed_row_is_named_by_line_and_nothing_is_imported(
    gateway, keys, sadad_files, db, line_3, problem
):
    _, settlement, _ = sadad_files
    lines = settlement.decode().split("\r\n")
    assert len(lines) >= 4
    lines[2] = line_3(lines[2])
    before = await _counts(db)

    status, error = await import_file(
        gateway, await keys("admin"), "psp-sadad", "settlement", "\r\n".join(lines).encode()
    )

    assert status == 422 and error["error"]["code"] == "file_rejected"
    assert error["error"]["details"]["line"] == 3 and problem in error["error"]["details"]["problem"]
    assert await _counts(db) == before


async def test_a_feed_sent_as_a_settlement_file_is_refused_on_line_1(gateway, keys, sadad_files):
    _, _, feed = sadad_files
    status, error = await import_file(gateway, await keys("admin"), "psp-sadad", "settlement", feed)
    assert status == 422 and error["error"]["details"]["line"] == 1


async def test_the_command_line_imports_and_reports(gateway, keys, psp_hosts, http_session, database_url, tmp_path):
    day, _settlement, feed = await _sadad_day(gateway, keys, psp_hosts, http_session)
    path = tmp_path / "psp-sadad-feed.csv"
    path.write_bytes(feed)
    env = {**os.environ, "DATABASE_URL": database_url}

    def pishkhan(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*PISHKHAN, *args], env=env, capture_output=True, text=True, timeout=60)

    first = pishkhan("reconcile", "import", str(path))
    assert first.returncode == 0, first.stderr
    imported = json.loads(first.stdout)
    assert imported["created"] and (imported["psp_id"], imported["kind"]) == ("psp-sadad", "terminal_feed")
    status, again = await import_file(gateway, await keys("admin"), "psp-sadad", "terminal_feed", feed)
    assert status == 200 and again["id"] == imported["id"]

    path.write_bytes(feed.replace(b"psp-sadad,", b"psp-nowhere,"))
    refused = pishkhan("reconcile", "import", str(path))
    assert refused.returncode == 1 and "nothing was imported" in refused.stderr

    report = pishkhan("reconcile", "report", "--date", day, "--psp", "psp-sadad", "--format", "csv")
    assert report.returncode == 0, report.stderr
    status, served = await gateway.request(
        "GET", f"/v1/reconciliation?date={day}&psp_id=psp-sadad&format=csv", key=await keys("regulator")
    )
    assert status == 200 and report.stdout.splitlines() == served.decode().splitlines()
    assert len(served.splitlines()) > 2 and served.startswith(b"kind,psp_id,agency_id")


async def test_kept_rows_carry_their_line_numbers_and_typed_values(db):
    line = (
        "psp-sadad,2024-01-11,IR560150679290810033907579,500000,220012345678902,{rrn},000001,10000003,"
        "2024-01-10T08:15:00.250+03:30,{reference}"
    )
    lines = [
        line.format(rrn="400110000001", reference="8f14e45f-ceea-467a-9575-0a7c4b1f1e2d"),
        "",
        line.format(rrn="400110000002", reference=""),
        line.format(rrn="400110000003", reference='"a, quoted ""reference"""'),
    ]
    data = "\r\n".join([header_line(FileKind.SETTLEMENT), *lines]).encode() + b"\r\n"

    async def body():
        yield data

    imported = await import_psp_file(
        db, body(), psp_id=None, expected_kind=None, source="typed.csv", imported_by="test"
    )

    assert imported.created and imported.rows == 3
    kept = await db.fetch(
        "SELECT line, settlement_date, amount, rrn, transaction_time, reference FROM psp_settlement_rows "
        "WHERE file_id = $1 ORDER BY line",
        imported.file_id,
    )
    assert [(row["line"], row["rrn"], row["reference"]) for row in kept] == [
        (2, "400110000001", "8f14e45f-ceea-467a-9575-0a7c4b1f1e2d"),
        (4, "400110000002", None),
        (5, "400110000003", 'a, quoted "reference"'),
    ]
    first = kept[0]
    assert (first["settlement_date"], first["amount"]) == (date(2024, 1, 11), 500_000)
    assert first["transaction_time"] == datetime(2024, 1, 10, 4, 45, 0, 250_000, UTC)
