"""Each pattern built through the real path, detected with its evidence, and never recorded twice."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from datetime import timedelta

from gateway.core.jalali import tehran_date
from gateway.oversight.detection import COMMIT_MARGIN, LOCK_ID, detect_range, run_detection
from gateway.oversight.runtime import detect_forever
from gateway.oversight.store import SPLIT_CANDIDATES, record_run
from gateway.platform.config import PROJECT_ROOT
from tests.oversight.support import WINDOW, detect, recipient, utcnow, violations_of
from tests.query_plans import index_of_table, plan_nodes
from tests.reconciliation.support import DirectLine, daily_file, import_file
from tests.stack import charge_body

KASHAN_IBAN = "IR600560832661663049403269"  # office 31110003


async def _cap(gateway, key: str, service_code: str = "1101") -> int:
    status, quote = await gateway.request("GET", f"/v1/tariffs/quote?service_code={service_code}", key=key)
    assert status == 200, quote
    return quote["cap"]


async def _refusal_ids(db, since) -> dict[str, int]:
    rows = await db.fetch("SELECT id, reason FROM refusals WHERE created_at >= $1", since)
    return {row["reason"]: row["id"] for row in rows}


async def test_refused_attempts_become_findings_with_their_refusals_as_evidence(gateway, keys, db):
    since = utcnow()
    kashan = await keys("t:10000004")
    cap = await _cap(gateway, kashan)
    attempts = [
        (kashan, charge_body(terminal_id="10000004", operator_id="op-31", amount=cap + 120_000), 422),
        (kashan, charge_body(terminal_id="10000004", operator_id="op-31", payment_method="cash"), 422),
        (await keys("t:10000008"), charge_body(terminal_id="10000008", operator_id="op-31"), 403),
        (await keys("t:10000005"), charge_body(terminal_id="10000005", operator_id="op-41"), 403),
    ]
    for key, body, expected in attempts:
        status, answer = await gateway.charge(key, body)
        assert status == expected, answer

    found = await detect(gateway, db, since)

    refusals = await _refusal_ids(db, since)
    assert set(refusals) == {"excess_fee", "cash_forbidden", "psp_unlicensed", "office_license_inactive"}
    assert found == {"cash_payment": 1, "excess_fee": 1, "inactive_licence": 1, "unlicensed_psp": 1}
    recorded = await violations_of(db, *(f"refusal:{i}" for i in refusals.values()))
    excess = recorded[f"refusal:{refusals['excess_fee']}"]
    assert (excess["type"], excess["office_id"], excess["operator_id"], excess["service_code"]) == (
        "excess_fee",
        "31110003",
        "op-31",
        "1101",
    )
    assert (excess["amount"], excess["excess"]) == (cap + 120_000, 120_000)
    assert excess["evidence"]["refusal_id"] == refusals["excess_fee"] and excess["evidence"]["cap"] == cap
    cash = recorded[f"refusal:{refusals['cash_forbidden']}"]
    assert (cash["type"], cash["office_id"], cash["excess"]) == ("cash_payment", "31110003", None)
    assert cash["evidence"]["payment_method"] == "cash"
    unlicensed = recorded[f"refusal:{refusals['psp_unlicensed']}"]
    assert (unlicensed["type"], unlicensed["office_id"], unlicensed["terminal_id"]) == (
        "unlicensed_psp",
        "31110003",
        "10000008",
    )
    inactive = recorded[f"refusal:{refusals['office_license_inactive']}"]
    assert (inactive["type"], inactive["office_id"]) == ("inactive_licence", "41110004")

    assert await detect(gateway, db, since) == {}
    assert len(await violations_of(db, *(f"refusal:{i}" for i in refusals.values()))) == 4


async def test_repeated_real_charges_over_one_cap_are_split_charging(gateway, keys, db):
    since = utcnow()
    vanak = await keys("t:10000001")
    cap = await _cap(gateway, vanak)
    person, someone_else = recipient(), recipient()
    answers = [
        await gateway.charge(vanak, charge_body(recipient=person, amount=cap)),
        await gateway.charge(vanak, charge_body(recipient=person, operator_id="op-12", amount=400_000)),
        await gateway.charge(vanak, charge_body(recipient=person, service_code="1102", amount=400_000)),
        await gateway.charge(vanak, charge_body(recipient=someone_else, amount=cap)),
    ]
    assert [status for status, _ in answers] == [201] * 4, answers
    first, second, other_service, other_person = (charge for _, charge in answers)

    found = await detect(gateway, db, since)

    assert found == {"split_charging": 1}
    recorded = await violations_of(db, *(f"split:{c['id']}" for c in (first, second, other_service, other_person)))
    assert list(recorded) == [f"split:{second['id']}"]
    finding = recorded[f"split:{second['id']}"]
    assert (finding["type"], finding["office_id"], finding["terminal_id"], finding["operator_id"]) == (
        "split_charging",
        "11110001",
        "10000001",
        "op-12",
    )
    assert (finding["amount"], finding["excess"]) == (400_000, 400_000)
    evidence = finding["evidence"]
    assert evidence["charge_ids"] == [first["id"], second["id"]]
    assert [c["tracking_code"] for c in evidence["charges"]] == [first["tracking_code"], second["tracking_code"]]
    assert (evidence["total"], evidence["cap"], evidence["window_seconds"]) == (
        cap + 400_000,
        cap,
        WINDOW.total_seconds(),
    )
    assert evidence["recipient_national_code"] == "******" + person["national_code"][6:]
    assert evidence["tariff_reference"] == first["tariff_reference"]

    assert await detect(gateway, db, since) == {}


async def test_card_reader_activity_outside_the_gateway_is_found_in_the_terminal_feed(
    gateway, keys, db, psp_hosts, http_session, demo_registry, database_url, settings
):
    since = utcnow()
    mellat = psp_hosts["psp-mellat"]
    kashan = await keys("t:10000004")
    status, through_gateway = await gateway.charge(
        kashan, charge_body(terminal_id="10000004", operator_id="op-31", recipient=recipient(), amount=600_000)
    )
    assert status == 201, through_gateway
    line = DirectLine(mellat, "psp-mellat", demo_registry["psps"]["psp-mellat"])
    try:
        outside = await line.offbook_purchase(
            "10000004", demo_registry["terminals"]["10000004"]["merchant_id"], 1_250_000, KASHAN_IBAN
        )
    finally:
        await line.close()
    feed = await daily_file(http_session, mellat, "terminal_feed", tehran_date(utcnow()).isoformat())
    status, imported = await import_file(gateway, await keys("admin"), "psp-mellat", "terminal_feed", feed)
    assert status == 201 and imported["offbook_rows"] >= 1, imported

    command = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "oversight", "detect", "--since", since.isoformat()],
        env={**os.environ, "DATABASE_URL": database_url, "PISHKHAN_APPROVER_KEYS": str(settings.approver_keys)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(command.stdout.splitlines()[-1])
    assert report["found"].get("offbook_transaction", 0) >= 1

    rows = await db.fetch("SELECT * FROM violations WHERE type = 'offbook_transaction' AND office_id = '31110003'")
    by_rrn = {row["evidence"]["rrn"]: row for row in rows}
    assert through_gateway["rrn"] not in by_rrn
    finding = by_rrn[outside.rrn]
    assert (finding["terminal_id"], finding["amount"], finding["excess"]) == ("10000004", 1_250_000, None)
    evidence = finding["evidence"]
    assert (evidence["psp_id"], evidence["status"], evidence["source_file_id"]) == (
        "psp-mellat",
        "verified",
        imported["id"],
    )
    assert evidence["source_line"] >= 2 and evidence["transacted_at"].endswith("Z")

    # A feed imported by a long transaction commits after passes that began later than its rows' time: a pass
    # re-reads feed rows from well before its own range.
    before_import = utcnow()
    line = DirectLine(mellat, "psp-mellat", demo_registry["psps"]["psp-mellat"])
    try:
        late = await line.offbook_purchase(
            "10000004", demo_registry["terminals"]["10000004"]["merchant_id"], 700_000, KASHAN_IBAN
        )
    finally:
        await line.close()
    feed = await daily_file(http_session, mellat, "terminal_feed", tehran_date(utcnow()).isoformat())
    status, imported = await import_file(gateway, await keys("admin"), "psp-mellat", "terminal_feed", feed)
    assert status == 201 and imported["offbook_rows"] == 1, imported
    after_import, tariffs = utcnow(), gateway.services.state.tariffs
    assert await detect_range(db, tariffs, WINDOW, after_import, after_import) == {}
    assert await detect_range(db, tariffs, WINDOW, after_import, after_import, feed_since=before_import) == {
        "offbook_transaction": 1
    }
    late_finding = await db.fetchrow("SELECT * FROM violations WHERE evidence->>'rrn' = $1", late.rrn)
    assert (late_finding["office_id"], late_finding["amount"]) == ("31110003", 700_000)


async def test_a_clean_office_has_no_finding(gateway, keys, db):
    since = utcnow()
    golsar = await keys("t:10000003")
    cap = await _cap(gateway, golsar)
    twice = recipient()
    bodies = [
        charge_body(terminal_id="10000003", operator_id="op-21", recipient=recipient(), amount=cap),
        charge_body(terminal_id="10000003", operator_id="op-21", recipient=recipient(), amount=cap),
        # the same person twice, for exactly one cap in all: within the rules
        charge_body(terminal_id="10000003", operator_id="op-21", recipient=twice, amount=cap // 2),
        charge_body(terminal_id="10000003", operator_id="op-21", recipient=twice, amount=cap - cap // 2),
        charge_body(
            terminal_id="10000003",
            operator_id="op-21",
            recipient=twice,
            service_code="2101",
            amount=await _cap(gateway, golsar, "2101"),
        ),
    ]
    for body in bodies:
        status, answer = await gateway.charge(golsar, body)
        assert status == 201, answer
    vanak, elsewhere = await keys("t:10000001"), recipient()
    for amount in (cap, cap // 2):  # meanwhile, at another office, one cap and a half for one person
        status, answer = await gateway.charge(vanak, charge_body(recipient=elsewhere, amount=amount))
        assert status == 201, answer

    assert await detect(gateway, db, since) == {"split_charging": 1}

    assert await db.fetchval("SELECT count(*) FROM violations WHERE office_id = '21110002'") == 0


async def test_detection_carries_on_from_its_reach_and_one_process_runs_it_at_a_time(gateway, db, database_url):
    from gateway.platform.db import connect

    tariffs = gateway.services.state.tariffs
    reach = utcnow()  # later than any pass before: this is now how far detection has come
    await record_run(db, reach - WINDOW, reach, {}, reach)
    now = utcnow()
    other = await connect(database_url)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_ID)
        assert await run_detection(db, tariffs, window=WINDOW, rescan=WINDOW, clock=lambda: now) is None
        await other.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
        report = await run_detection(db, tariffs, window=WINDOW, rescan=WINDOW, clock=lambda: now)
    finally:
        await other.close()
    assert (report.scanned_from, report.scanned_to) == (reach - COMMIT_MARGIN, now)
    assert await db.fetchval("SELECT max(scanned_to) FROM oversight_detection_runs") == now


async def test_the_gateway_worker_records_new_findings_on_its_own(gateway, keys, db):
    now = utcnow()
    await record_run(db, now - WINDOW, now, {}, now)  # the worker carries on from here
    kashan = await keys("t:10000004")
    status, _ = await gateway.charge(
        kashan, charge_body(terminal_id="10000004", operator_id="op-31", payment_method="cash")
    )
    assert status == 422
    (refusal_id,) = [r["id"] for r in await db.fetch("SELECT id FROM refusals WHERE created_at >= $1", now)]
    refused_at = await db.fetchval("SELECT created_at FROM refusals WHERE id = $1", refusal_id)
    services = gateway.services
    # The worker reads up to its commit margin ago; a short one keeps the test short.
    oversight = dataclasses.replace(services.oversight, commit_margin=timedelta(milliseconds=200))
    worker = asyncio.create_task(
        detect_forever(services.settings.database_url, services.state, oversight, interval=0.05, clock=services.clock)
    )
    try:
        for _ in range(100):  # until a pass has read past the refusal
            if await db.fetchval("SELECT max(scanned_to) FROM oversight_detection_runs") > refused_at:
                break
            await asyncio.sleep(0.05)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        # Its connection is gone, and with it the turn; the tests after this one take the turn themselves.
        for _ in range(500):
            if await db.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_ID):
                break
            await asyncio.sleep(0.01)
        assert await db.fetchval("SELECT pg_advisory_unlock($1)", LOCK_ID)
    assert (await violations_of(db, f"refusal:{refusal_id}"))[f"refusal:{refusal_id}"]["type"] == "cash_payment"


async def test_settled_passes_read_each_instant_once_and_a_pass_up_to_now_is_read_again_after_it(gateway, db):
    tariffs = gateway.services.state.tariffs
    margin = timedelta(seconds=30)
    start = utcnow()
    await record_run(db, start - WINDOW, start, {}, start + margin)  # a settled pass: it ran a margin later

    async def runs_after(clock_at):
        report = await run_detection(
            db, tariffs, window=WINDOW, rescan=WINDOW, clock=lambda: clock_at, settled=True, margin=margin
        )
        return report.scanned_from, report.scanned_to

    assert await runs_after(start + 2 * margin) == (start, start + margin)
    assert await runs_after(start + 2 * margin + timedelta(seconds=1)) == (
        start + margin,
        start + margin + timedelta(seconds=1),
    )
    assert await runs_after(start + 2 * margin + timedelta(seconds=1)) == (
        start + margin + timedelta(seconds=1),
        start + margin + timedelta(seconds=1),
    )  # nothing new settled: nothing read, nothing recorded

    up_to_now = start + 3 * margin
    report = await run_detection(db, tariffs, window=WINDOW, rescan=WINDOW, clock=lambda: up_to_now, margin=margin)
    assert report.scanned_to == up_to_now
    # That pass looked at instants that may not have committed yet: the next reads them again.
    assert await runs_after(up_to_now + 2 * margin) == (up_to_now - margin, up_to_now + margin)
    # The passes of this test ran in the future: the tests after it carry on from the present.
    await db.execute("DELETE FROM oversight_detection_runs WHERE scanned_to > $1", start)


async def test_the_split_lookup_reads_only_the_recipients_own_charges(db):
    """Each completed charge's lookup goes through the index of its office, recipient and service, not through every
    charge of its office: a busy office's detection pass would otherwise grow with the square of its charges."""
    now = utcnow()
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")  # the test database is small enough to scan
        (plan,) = await db.fetchval(f"EXPLAIN (FORMAT JSON) {SPLIT_CANDIDATES}", now - WINDOW, now, WINDOW)
    lateral = [node for node in plan_nodes(plan["Plan"]) if node.get("Alias", "").partition("_")[0] == "p"]
    indexes = await index_of_table(db)
    assert lateral and {indexes.get(node.get("Index Name"), "") for node in lateral} == {"charges_split_lookup"}, (
        lateral
    )


async def test_the_detection_loop_keeps_one_database_session_from_turn_to_turn(gateway, db):
    """A new backend every turn would start with cold catalog caches (every partition a pass reads), a burst of the
    database's CPU every turn that the charges being served would wait behind."""
    services = gateway.services
    oversight = dataclasses.replace(services.oversight, commit_margin=timedelta(milliseconds=50))
    worker = asyncio.create_task(
        detect_forever(services.settings.database_url, services.state, oversight, interval=0.05, clock=services.clock)
    )
    started = await db.fetchval("SELECT count(*) FROM oversight_detection_runs")
    sessions = set()
    try:
        for _ in range(200):
            sessions |= {
                row["pid"]
                for row in await db.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND query LIKE 'SELECT pg_advisory_unlock%'"
                )
            }
            if await db.fetchval("SELECT count(*) FROM oversight_detection_runs") >= started + 5:
                break
            await asyncio.sleep(0.02)
    finally:
        worker.cancel()
    assert await db.fetchval("SELECT count(*) FROM oversight_detection_runs") >= started + 5
    assert len(sessions) == 1, sessions
