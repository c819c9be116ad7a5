"""Monthly partitions of charges and receipts: the migration converts tables that hold rows (keeping them and every
foreign key, whoever added it), months are created ahead, and months past the retention are exported (receipts as
files that `pishkhan receipts verify` accepts) and detached."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import asyncpg
import pytest
from uuid_utils.compat import uuid7

from gateway.core.access_chain import BreakKind
from gateway.core.clock import system_clock
from gateway.oversight.access_log import log_access, verify_access_log
from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from gateway.platform.partitions import MONTHLY_TABLES, add_months, ensure_partitions, month_start
from loadtests.charge_cost import analyze
from receipts.keys_files import load_keyring
from tests.platform.schema_history import migrate_until
from tests.query_plans import month_partition
from tests.security.cli import pishkhan
from tests.stack import charge_body

TERMINAL, OPERATOR, OFFICE = "10000001", "op-11", "11110001"


def _uuid7_at(moment) -> uuid.UUID:
    return uuid.UUID(str(uuid7(nanoseconds=int(moment.timestamp() * 1e9))))


_CHARGE = """
INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity, extras,
                     recipient_name, recipient_national_code, recipient_mobile, amount, breakdown, tariff_reference,
                     settlement_rows, status, verify_deadline, created_at, completed_at, tracking_code)
VALUES ($1, '11110001', '10000001', 'm-1', 'psp-mellat', 'op-11', '1101', 1, '[]', 'x', '0012345679', '09121234567',
        700000, '{}', 'CRA-COM-1402-07', '[]', 'completed', $2, $2, $2, $3)
"""
_RECEIPT = """
INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed)
VALUES ('11110001', $1, $2, $3, $4, 'k', 'h', 'p', '{}')
"""


async def test_the_migration_keeps_every_row_index_and_foreign_key_of_tables_that_hold_rows(empty_database):
    await migrate_until(empty_database, "0100")
    now = system_clock()
    earlier = now - timedelta(days=75)
    ids = {"earlier": _uuid7_at(earlier), "now": _uuid7_at(now), "not_v7": uuid.uuid4()}
    conn = await connect(empty_database)
    try:
        for n, (name, charge_id) in enumerate(ids.items(), start=1):
            at = earlier if name == "earlier" else now
            await conn.execute(_CHARGE, charge_id, at, f"code-{n}")
            await conn.execute(_RECEIPT, n, f"code-{n}", charge_id, at)
        await conn.execute(
            """INSERT INTO voids (id, charge_id, office_id, psp_id, amount, reason, reason_text, requested_by, status,
                                  window_closes_at, created_at)
               VALUES ($1, $2, '11110001', 'psp-mellat', 700000, 'r', 'r', 'k', 'reversed', now(), now())""",
            uuid.uuid4(),
            ids["earlier"],
        )
        # What another feature's migration may have added by now: a table pointing at charges, an index of its own.
        await conn.execute("CREATE TABLE refund_claims (charge_id uuid NOT NULL REFERENCES charges (id))")
        await conn.execute("INSERT INTO refund_claims VALUES ($1)", ids["now"])
        await conn.execute("CREATE INDEX charges_by_amount ON charges (amount)")

        await apply_migrations(empty_database)

        assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'charges'") == "p"
        placed = dict(await conn.fetch("SELECT id, tableoid::regclass::text FROM charges"))
        assert placed == {
            ids["earlier"]: month_partition("charges", earlier),
            ids["now"]: month_partition("charges", now),
            ids["not_v7"]: "charges_default",
        }
        issued = dict(await conn.fetch("SELECT charge_id, tableoid::regclass::text FROM receipts"))
        assert issued[ids["earlier"]] == month_partition("receipts", earlier)
        assert issued[ids["now"]] == month_partition("receipts", now)

        pointing = dict(
            await conn.fetch(
                "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND conparentid = 0 AND confrelid = 'charges'::regclass"
            )
        )
        # Those that pointed at charges before the conversion still do (later migrations may add more).
        assert pointing.items() >= {"voids": "charges", "refund_claims": "charges"}.items()
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("DELETE FROM charges WHERE id = $1", ids["now"])
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("INSERT INTO refund_claims VALUES ($1)", uuid.uuid4())
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(_CHARGE, ids["now"], now, "code-9")

        indexes = {row[0] for row in await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'charges'")}
        assert {"charges_pkey", "charges_by_amount", "charges_split_lookup", "charges_pending"} <= indexes
        assert await conn.fetchval("SELECT count(*) FROM pg_class WHERE relname LIKE '%_unpartitioned'") == 0
        # The STAN sequence and every default still serve new rows.
        await conn.execute(_CHARGE, _uuid7_at(now), now, "code-10")
    finally:
        await conn.close()


async def test_ensure_creates_the_months_ahead_once(empty_database):
    await apply_migrations(empty_database)
    code, out, err = await pishkhan(empty_database, "partitions", "ensure", "--months-ahead", "5")
    assert code == 0, err
    first = month_start(system_clock())
    expected = {month_partition(table, add_months(first, n)) for table in MONTHLY_TABLES for n in (4, 5)}
    assert set(out.split()) - {"created"} == expected
    code, out, err = await pishkhan(empty_database, "partitions", "ensure", "--months-ahead", "5")
    assert (code, out.strip()) == (0, "every partition already exists")


async def test_months_created_ahead_keep_the_parents_column_statistics_targets(empty_database):
    """ANALYZE skips the columns no query reads in a condition (migration 0187), in the months created later too:
    PostgreSQL's CREATE TABLE ... PARTITION OF leaves a new partition's targets at the default."""
    await apply_migrations(empty_database)
    code, _, err = await pishkhan(empty_database, "partitions", "ensure", "--months-ahead", "5")
    assert code == 0, err
    targets = """SELECT attname, attstattarget FROM pg_attribute
                 WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0"""
    conn = await asyncpg.connect(empty_database)
    try:
        for table in ("charges", "outbox"):
            parent = set(await conn.fetch(targets, table))
            assert ("payload" if table == "outbox" else "settlement_rows", 0) in parent
            newest = month_partition(table, add_months(month_start(system_clock()), 5))
            assert set(await conn.fetch(targets, newest)) == parent
    finally:
        await conn.close()


async def test_every_column_of_the_tables_analysed_often_states_a_small_statistics_target(empty_database):
    """ANALYZE samples 300 rows per unit of the largest target among a table's columns: one column left at the
    default of 100 would make every month's ANALYZE of the tables each charge grows (migration 0188), and every
    settlement file's import (migration 0189), sample 30,000 rows again."""
    await apply_migrations(empty_database)
    code, _, err = await pishkhan(empty_database, "partitions", "ensure", "--months-ahead", "2")
    assert code == 0, err
    conn = await asyncpg.connect(empty_database)
    try:
        for table in ("charges", "receipts", "outbox", "idempotency_keys", "psp_settlement_rows"):
            relations = [table]
            if table in MONTHLY_TABLES:
                relations.append(month_partition(table, add_months(month_start(system_clock()), 2)))
            for relation in relations:
                targets = await conn.fetch(
                    """SELECT attname, attstattarget FROM pg_attribute
                       WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped""",
                    relation,
                )
                assert targets, relation
                assert {
                    (row["attname"], row["attstattarget"]) for row in targets if row["attstattarget"] not in (0, 10)
                } == set(), relation
    finally:
        await conn.close()


async def test_analyze_of_a_filled_table_samples_3000_rows(empty_database):
    """What the targets above are for, as `python -m loadtests.charge_cost --analyze` reports it."""
    await apply_migrations(empty_database)
    conn = await asyncpg.connect(empty_database)
    try:
        await conn.execute(
            """INSERT INTO idempotency_keys (office_id, key, request_hash, response_body)
               SELECT '11110001', 'key-' || n, sha256(n::text::bytea), '{}' FROM generate_series(1, 5000) AS n"""
        )
        await conn.execute("SELECT pg_stat_force_next_flush()")
        assert (await analyze(conn, repeats=1))["idempotency_keys"]["rows_in_sample"] == 3000
    finally:
        await conn.close()


async def _copy_office(db, target, office: str, shift: timedelta) -> dict[uuid.UUID, uuid.UUID]:
    """The office's charges, receipts and voids copied into `target` as if made `shift` earlier (new charge ids of
    that time, the receipts' signed documents unchanged); returns the new id of each charge."""
    charges = [dict(row) for row in await db.fetch("SELECT * FROM charges WHERE office_id = $1", office)]
    new_ids = {row["id"]: _uuid7_at(row["created_at"] - shift) for row in charges}
    for row in charges:
        row.update(id=new_ids[row["id"]], created_at=row["created_at"] - shift)
        if row["completed_at"]:
            row["completed_at"] -= shift
    receipts = [dict(row) for row in await db.fetch("SELECT * FROM receipts WHERE office_id = $1", office)]
    for row in receipts:
        row.update(charge_id=new_ids[row["charge_id"]], issued_at=row["issued_at"] - shift)
    voids = [dict(row) for row in await db.fetch("SELECT * FROM voids WHERE office_id = $1", office)]
    for row in voids:
        row.update(charge_id=new_ids[row["charge_id"]])
    for table, rows in (("charges", charges), ("receipts", receipts), ("voids", voids)):
        await target.copy_records_to_table(table, records=[tuple(row.values()) for row in rows], columns=list(rows[0]))
    return new_ids


async def test_a_retired_month_is_exported_verifiable_and_detached(gateway, keys, db, empty_database, tmp_path):
    key = await keys(f"t:{TERMINAL}")
    charged = []
    for _ in range(3):
        status, charge = await gateway.charge(key, charge_body(terminal_id=TERMINAL, operator_id=OPERATOR))
        assert status == 201, charge
        charged.append(charge)
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charged[0]['id']}/void",
        key=key,
        json={"reason": "duplicate_payment", "reason_text": "پرداخت دو بار انجام شد"},
        headers={"Idempotency-Key": f"retire-{charged[0]['id']}"},
    )
    assert status == 201, void

    await apply_migrations(empty_database)
    now = system_clock()
    shift = timedelta(days=120)
    target = await connect(empty_database)
    try:
        await ensure_partitions(target, now - shift - timedelta(days=2), 1)
        new_ids = await _copy_office(db, target, OFFICE, shift)
        retired_month = month_start(now - shift)
        kept = await target.fetchval("SELECT count(*) FROM charges")

        code, out, err = await pishkhan(
            empty_database,
            "partitions",
            "export-and-detach",
            "--older-than",
            "2",
            "--output",
            str(tmp_path),
            "--dry-run",
        )
        assert code == 0, err
        assert f"{retired_month:%Y-%m}: would export and detach" in out
        assert await target.fetchval("SELECT count(*) FROM charges") == kept

        code, out, err = await pishkhan(
            empty_database, "partitions", "export-and-detach", "--older-than", "2", "--output", str(tmp_path)
        )
        assert code == 0, err
        folder = tmp_path / f"{retired_month:%Y-%m}"
        manifest = json.loads((folder / "manifest.json").read_text())
        exported = [json.loads(line) for line in (folder / "charges.jsonl").read_text().splitlines()]
        assert {row["id"] for row in exported} <= {str(new) for new in new_ids.values()}
        assert manifest["files"]["charges.jsonl"]["rows"] == len(exported) > 0
        voided = new_ids[uuid.UUID(charged[0]["id"])]
        assert [
            json.loads(line)["charge_id"] for line in (folder / "voids.charges.jsonl").read_text().splitlines()
        ] == [str(voided)]
        assert await target.fetchval("SELECT count(*) FROM voids WHERE charge_id = $1", voided) == 0
        for table in ("charges", "receipts"):
            assert await target.fetchval("SELECT to_regclass($1)", month_partition(table, retired_month)) is None
        assert (
            await target.fetchval("SELECT count(*) FROM charges WHERE id = ANY($1::uuid[])", list(new_ids.values()))
            == 0
        )

        _, published = await gateway.request("GET", "/v1/keys")
        keys_file = tmp_path / "keys.json"
        keys_file.write_text(json.dumps(published))
        office_file = folder / "receipts" / f"{OFFICE}.jsonl"
        code, out, err = await pishkhan(
            empty_database, "receipts", "verify", str(office_file), "--keys", str(keys_file)
        )
        assert code == 0, out + err
        report = json.loads(out)
        assert report["receipts_checked"] == manifest["files"][f"receipts/{OFFICE}.jsonl"]["rows"] >= 4
        assert report["voided"][charged[0]["tracking_code"]] == void["cancellation_tracking_code"]
    finally:
        await target.close()


async def test_the_access_log_keeps_verifying_after_its_first_months_are_retired(empty_database, key_dir, tmp_path):
    await apply_migrations(empty_database)
    old = system_clock() - timedelta(days=120)
    conn = await connect(empty_database)
    try:
        await ensure_partitions(conn, old - timedelta(days=2), 1)
        # Four entries in an old month, chained as the append function chains them, then two appended today.
        await conn.execute(
            """WITH RECURSIVE chain (seq, at, hash) AS (
                   SELECT 1::bigint, $1::timestamptz,
                          pishkhan_access_entry_hash(repeat('0', 64), 1, $1, 'reg', 'GET', '/v1/regulator/x', '', 200)
                   UNION ALL
                   SELECT seq + 1, at + interval '1 second',
                          pishkhan_access_entry_hash(hash, seq + 1, at + interval '1 second', 'reg', 'GET',
                                                     '/v1/regulator/x', '', 200)
                   FROM chain WHERE seq < 4
               ), rows AS (
                   INSERT INTO regulator_access_log (seq, key_id, method, path, query, status, at, prev_hash, hash)
                   SELECT seq, 'reg', 'GET', '/v1/regulator/x', '', 200, at,
                          coalesce(lag(hash) OVER (ORDER BY seq), repeat('0', 64)), hash
                   FROM chain
                   RETURNING seq, hash
               )
               UPDATE regulator_access_log_head SET seq = last.seq, hash = last.hash
               FROM (SELECT seq, hash FROM rows ORDER BY seq DESC LIMIT 1) last""",
            old,
        )
        for _ in range(2):
            await log_access(conn, key_id="reg", method="GET", path="/v1/regulator/y", query="", status=200)
        keys = load_keyring(key_dir).verifying
        assert (await verify_access_log(conn, keys)).entries_checked == 6

        code, _, err = await pishkhan(
            empty_database, "partitions", "export-and-detach", "--older-than", "2", "--output", str(tmp_path)
        )
        assert code == 0, err
        exported = [
            json.loads(line)
            for line in (tmp_path / f"{month_start(old):%Y-%m}" / "regulator_access_log.jsonl").read_text().splitlines()
        ]
        assert [entry["seq"] for entry in exported] == [1, 2, 3, 4]
        report = await verify_access_log(conn, keys)
        assert report.ok and report.entries_checked == 2 and report.last_seq == 6, report.breaks

        await conn.execute("UPDATE regulator_access_log SET prev_hash = repeat('1', 64) WHERE seq = 5")
        assert (await verify_access_log(conn, keys)).first_break.kind == BreakKind.BROKEN_LINK
    finally:
        await conn.close()


_MESSAGE = """
INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, status, next_poll_at, created_at,
                    updated_at)
VALUES ('11110001', gen_random_uuid(), 'sms', $1, '09121234567', '{"text": "x"}', $2, $3, $4, $4)
"""


async def _retire(database: str, out) -> str:
    """`pishkhan partitions export-and-detach` of every month older than two, into `out`; its output."""
    code, output, err = await pishkhan(
        database, "partitions", "export-and-detach", "--older-than", "2", "--output", str(out)
    )
    assert code == 0, err
    return output


async def test_an_outbox_month_is_retired_only_once_none_of_its_messages_can_change(empty_database, tmp_path):
    await apply_migrations(empty_database)
    old = system_clock() - timedelta(days=120)
    folder = tmp_path / f"{month_start(old):%Y-%m}"
    conn = await connect(empty_database)

    try:
        await ensure_partitions(conn, old - timedelta(days=2), 1)
        for message_id, status, next_poll_at in [
            ("delivered", "delivered", None),
            ("given-up", "dead", None),
            ("polled-no-more", "sent", None),  # accepted; its reports stopped coming in the providers' window
            ("pending", "pending", None),
            ("awaiting-report", "sent", old + timedelta(minutes=1)),
        ]:
            await conn.execute(_MESSAGE, message_id, status, next_poll_at, old)
        partition = month_partition("outbox", old)

        out = await _retire(empty_database, tmp_path)
        assert f"kept {partition}: 2 messages" in out, out
        assert await conn.fetchval("SELECT to_regclass($1)", month_partition("charges", old)) is None
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 5
        manifest = json.loads((folder / "manifest.json").read_text())
        assert "outbox.jsonl" not in manifest["files"] and "charges.jsonl" in manifest["files"]

        await conn.execute("UPDATE outbox SET status = 'delivered' WHERE message_id = 'pending'")
        out = await _retire(empty_database, tmp_path)
        assert f"kept {partition}: 1 messages" in out, out
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 5

        await conn.execute(
            "UPDATE outbox SET status = 'delivered', next_poll_at = NULL WHERE message_id = $1", "awaiting-report"
        )
        out = await _retire(empty_database, tmp_path)
        assert f"detached {partition}" in out, out
        assert await conn.fetchval("SELECT to_regclass($1)", partition) is None
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
        exported = [json.loads(line) for line in (folder / "outbox.jsonl").read_text().splitlines()]
        assert [row["message_id"] for row in exported] == [
            "delivered",
            "given-up",
            "polled-no-more",
            "pending",
            "awaiting-report",
        ]
        assert exported[0]["payload"] == {"text": "x"}
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["files"]["outbox.jsonl"]["rows"] == 5
        assert "charges.jsonl" in manifest["files"]  # what the first run retired stays listed
    finally:
        await conn.close()


async def test_a_charges_month_is_kept_while_a_charge_of_it_waits_for_its_settle_call(empty_database, tmp_path):
    await apply_migrations(empty_database)
    old = system_clock() - timedelta(days=120)
    conn = await connect(empty_database)

    try:
        await ensure_partitions(conn, old - timedelta(days=2), 1)
        charge_id = _uuid7_at(old)
        await conn.execute(_CHARGE, charge_id, old, "code-1")
        await conn.execute("INSERT INTO settle_calls (charge_id, next_at) VALUES ($1, $2)", charge_id, old)
        partition = month_partition("charges", old)

        out = await _retire(empty_database, tmp_path)
        assert f"kept {partition}: 1 charges whose separate settle call is still due" in out, out
        assert await conn.fetchval("SELECT count(*) FROM charges WHERE id = $1", charge_id) == 1

        await conn.execute("DELETE FROM settle_calls WHERE charge_id = $1", charge_id)  # the call went through
        out = await _retire(empty_database, tmp_path)
        assert f"kept {partition}" not in out and f"detached {partition}" in out, out
        assert await conn.fetchval("SELECT to_regclass($1)", partition) is None
    finally:
        await conn.close()
