"""Refunds past the reversal window, against real PostgreSQL, Redis and the PSP simulators: the instruction at the
PSP (both protocols), the cancellation receipt, the PSP's settlement file taking the rows back and its import
settling the refund, a file without the refund's lines, the refusals, and recovery of an unanswered instruction."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from tests.money_safety.support import assert_conserved, now
from tests.reconciliation.support import charge_day, daily_file, import_file
from tests.stack import charge_body

# One terminal of office 11110001 per protocol: psp-mellat speaks ISO 8583, psp-saman the cloud PC-POS API.
PSP_TERMINALS = {"psp-mellat": "10000001", "psp-saman": "10000002"}
REASON = {"reason": "service_not_delivered", "reason_text": "سامانه ثبت احوال پس از پرداخت قطع شد"}


async def paid(gateway, keys, terminal_id: str) -> dict:
    status, charge = await gateway.charge(await keys(f"t:{terminal_id}"), charge_body(terminal_id=terminal_id))
    assert status == 201, charge
    return charge


async def refund(gateway, keys, terminal_id: str, charge_id: str, idempotency_key: str | None = None, body=REASON):
    return await gateway.request(
        "POST",
        f"/v1/charges/{charge_id}/refund",
        key=await keys(f"t:{terminal_id}"),
        json=body,
        headers={"Idempotency-Key": idempotency_key or uuid.uuid4().hex},
    )


async def report_rows(gateway, keys, day: str, psp_id: str, charge_id: str) -> list[dict]:
    status, body = await gateway.request(
        "GET", f"/v1/reconciliation?date={day}&psp_id={psp_id}&format=csv", key=await keys("admin")
    )
    assert status == 200, body
    return [row for row in csv.DictReader(io.StringIO(body.decode())) if row["charge_id"] == charge_id]


async def statement_row(gateway, keys, day: str, charge_id: str) -> dict:
    status, statement = await gateway.request(
        "GET", f"/v1/agencies/civil-registration/settlements?date={day}&limit=1000", key=await keys("regulator")
    )
    assert status == 200, statement
    return next(row for row in statement["data"] if row["charge_id"] == charge_id)


@pytest.mark.parametrize("psp_id", sorted(PSP_TERMINALS))
async def test_a_refund_after_the_window_is_instructed_receipted_and_settled_by_the_psps_next_file(
    psp_id, gateway, keys, sims, db, psp_hosts, http_session, reversal_windows_closed
):
    since = now()
    terminal_id = PSP_TERMINALS[psp_id]
    charge = await paid(gateway, keys, terminal_id)

    status, answer = await refund(gateway, keys, terminal_id, charge["id"])

    assert status == 201, answer
    assert answer["status"] == "instructed" and answer["amount"] == charge["amount"]
    assert sum(row["amount"] for row in answer["rows"]) == charge["amount"] and len(answer["rows"]) == 2
    entry = await sims[psp_id].entry(charge["id"])
    assert entry["state"] == "verified" and entry["refund"]["rrn"] == answer["rrn"] != charge["rrn"]
    receipts = await db.fetch(
        "SELECT kind, tracking_code, signed FROM receipts WHERE charge_id = $1 ORDER BY seq", uuid.UUID(charge["id"])
    )
    assert [r["kind"] for r in receipts] == ["charge", "cancellation"]
    cancellation = receipts[1]["signed"]["receipt"]
    assert cancellation["returned_by"] == "refund"
    assert cancellation["cancels"]["tracking_code"] == charge["tracking_code"]
    assert receipts[1]["tracking_code"] == answer["cancellation_tracking_code"]
    status, verdict = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}/verify")
    assert verdict["voided"] is verdict["refunded"] is True
    assert verdict["voided_by"]["tracking_code"] == answer["cancellation_tracking_code"]
    assert verdict["voided_by"]["returned_by"] == "refund"
    messages = await db.fetch(
        "SELECT channel FROM outbox WHERE charge_id = $1 AND purpose = 'cancellation' ORDER BY channel",
        uuid.UUID(charge["id"]),
    )
    assert [m["channel"] for m in messages] == ["poosheh", "sms"]
    day = charge_day(charge)
    row = await statement_row(gateway, keys, day, charge["id"])
    assert (row["refunded_by"], row["refund_status"]) == (answer["cancellation_tracking_code"], "instructed")
    await assert_conserved(db, psp_hosts, since)

    file = await daily_file(http_session, psp_hosts[psp_id], "settlement", day)
    refund_lines = [line for line in file.decode().splitlines() if f",{answer['rrn']}," in line]
    assert sorted(int(line.split(",")[3]) for line in refund_lines) == sorted(-r["amount"] for r in answer["rows"])
    status, imported = await import_file(gateway, await keys("admin"), psp_id, "settlement", file)
    assert status == 201, imported

    status, settled = await gateway.request(
        "GET", f"/v1/charges/{charge['id']}/refund", key=await keys(f"t:{terminal_id}")
    )
    assert settled["status"] == "settled" and settled["settled_at"]
    rows = await report_rows(gateway, keys, day, psp_id, charge["id"])
    assert sorted(r["kind"] for r in rows) == ["matched", "matched", "refunded", "refunded"]
    refunded = [r for r in rows if r["kind"] == "refunded"]
    assert all(int(r["collected"]) == 0 and int(r["settled"]) == -int(r["returned"]) for r in refunded)
    assert sum(int(r["returned"]) for r in refunded) == charge["amount"]
    assert sum(int(r["collected"]) - int(r["settled"]) - int(r["returned"]) for r in rows) == 0
    assert (await statement_row(gateway, keys, day, charge["id"]))["refund_status"] == "settled"
    await assert_conserved(db, psp_hosts, since)


@pytest.mark.parametrize(
    ("adjustment", "kinds"),
    [
        ({"omit": True}, ["refund_pending", "refund_pending"]),
        ({"row": 0, "amount": -1}, ["amount_mismatch", "refunded"]),
    ],
)
async def test_a_file_without_the_refunds_lines_leaves_it_instructed_and_shows_the_difference(
    adjustment, kinds, gateway, keys, db, psp_hosts, http_session, reversal_windows_closed
):
    charge = await paid(gateway, keys, "10000001")
    _, answer = await refund(gateway, keys, "10000001", charge["id"])
    day = charge_day(charge)

    file = await daily_file(
        http_session, psp_hosts["psp-mellat"], "settlement", day, adjustments=[{"rrn": answer["rrn"], **adjustment}]
    )
    status, imported = await import_file(gateway, await keys("admin"), "psp-mellat", "settlement", file)

    assert status == 201, imported
    status, read = await gateway.request("GET", f"/v1/charges/{charge['id']}/refund", key=await keys("t:10000001"))
    assert read["status"] == "instructed"
    rows = [r for r in await report_rows(gateway, keys, day, "psp-mellat", charge["id"]) if r["kind"] != "matched"]
    assert sorted(r["kind"] for r in rows) == kinds
    pending = [r for r in rows if r["kind"] == "refund_pending"]
    assert all(int(r["difference"]) == -int(r["returned"]) < 0 and not r["file_id"] for r in pending)
    assert (await statement_row(gateway, keys, day, charge["id"]))["refund_status"] == "instructed"


async def test_the_same_key_replays_and_a_second_refund_is_refused(gateway, keys, sims, db, reversal_windows_closed):
    charge = await paid(gateway, keys, "10000001")
    key = uuid.uuid4().hex

    first = await refund(gateway, keys, "10000001", charge["id"], key)
    replay = await refund(gateway, keys, "10000001", charge["id"], key)
    other_body = await refund(gateway, keys, "10000001", charge["id"], key, body={**REASON, "reason": "other"})
    second = await refund(gateway, keys, "10000001", charge["id"])

    assert first[0] == 201 and replay == first
    assert other_body[0] == 409 and other_body[1]["error"]["code"] == "idempotency_key_reused"
    assert second[0] == 422 and second[1]["error"]["code"] == "charge_already_refunded"
    history = (await sims["psp-mellat"].entry(charge["id"]))["history"]
    assert [step["note"] for step in history].count("refund instructed") == 1
    assert await db.fetchval("SELECT count(*) FROM refunds WHERE charge_id = $1", uuid.UUID(charge["id"])) == 1


async def test_a_voided_charge_is_never_refunded(gateway, keys, sims, db, reversal_windows_closed):
    charge = await paid(gateway, keys, "10000001")
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/void",
        key=await keys("t:10000001"),
        json=REASON,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, void

    status, answer = await refund(gateway, keys, "10000001", charge["id"])

    assert status == 422 and answer["error"]["code"] == "charge_already_voided"
    assert (await sims["psp-mellat"].entry(charge["id"]))["refund"] is None
    assert await db.fetchval("SELECT count(*) FROM refunds WHERE charge_id = $1", uuid.UUID(charge["id"])) == 0


async def test_within_the_window_the_answer_is_void_instead_and_nothing_is_stored(gateway, keys, sims, db):
    charge = await paid(gateway, keys, "10000001")
    key = uuid.uuid4().hex

    status, answer = await refund(gateway, keys, "10000001", charge["id"], key)

    assert status == 409 and answer["error"]["code"] == "void_window_open"
    assert answer["error"]["details"]["next_step"] == "void"
    assert (await sims["psp-mellat"].entry(charge["id"]))["refund"] is None
    assert await db.fetchval("SELECT count(*) FROM refunds WHERE charge_id = $1", uuid.UUID(charge["id"])) == 0
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key) == 0


async def test_an_unanswered_instruction_is_sent_again_by_recovery_and_refunds_once(
    gateway, keys, sims, db, psp_hosts, reversal_windows_closed
):
    since = now()
    charge = await paid(gateway, keys, "10000001")
    await sims["psp-mellat"].fault("drop_reply", "10000001", operation="refund")

    status, answer = await refund(gateway, keys, "10000001", charge["id"])

    assert status == 202 and answer["status"] == "sent", answer
    await db.execute("UPDATE refunds SET next_recovery_at = now() WHERE id = $1", uuid.UUID(answer["id"]))
    assert await gateway.services.refund_recovery.run_once() == 1
    status, read = await gateway.request("GET", f"/v1/charges/{charge['id']}/refund", key=await keys("t:10000001"))
    assert (
        read["status"] == "instructed"
        and read["rrn"] == (await sims["psp-mellat"].entry(charge["id"]))["refund"]["rrn"]
    )
    history = (await sims["psp-mellat"].entry(charge["id"]))["history"]
    assert [step["note"] for step in history].count("refund instructed") == 1
    kinds = await db.fetch("SELECT kind FROM receipts WHERE charge_id = $1", uuid.UUID(charge["id"]))
    assert sorted(r["kind"] for r in kinds) == ["cancellation", "charge"]
    await assert_conserved(db, psp_hosts, since)


async def test_another_offices_terminal_cannot_refund_or_read(gateway, keys, reversal_windows_closed):
    charge = await paid(gateway, keys, "10000001")

    status, answer = await refund(gateway, keys, "10000004", charge["id"])
    read_status, _ = await gateway.request("GET", f"/v1/charges/{charge['id']}/refund", key=await keys("t:10000004"))

    assert (status, answer["error"]["code"], read_status) == (404, "resource_missing", 404)


async def test_every_refund_is_visible_to_the_regulator(gateway, keys, reversal_windows_closed):
    since = now().isoformat().replace("+00:00", "Z")
    charge = await paid(gateway, keys, "10000002")
    _, answer = await refund(gateway, keys, "10000002", charge["id"])

    status, listed = await gateway.request(
        "GET", f"/v1/regulator/refunds?office_id=11110001&from={since}", key=await keys("regulator")
    )
    status_csv, csv_body = await gateway.request(
        "GET", f"/v1/regulator/refunds?office_id=11110001&from={since}&format=csv", key=await keys("regulator")
    )

    assert status == 200 and status_csv == 200
    (row,) = [row for row in listed["data"] if row["charge_id"] == charge["id"]]
    assert (row["object"], row["status"], row["rrn"], row["cancellation_tracking_code"]) == (
        "refund",
        "instructed",
        answer["rrn"],
        answer["cancellation_tracking_code"],
    )
    assert (row["tracking_code"], row["amount"], row["reason"]) == (
        charge["tracking_code"],
        charge["amount"],
        REASON["reason"],
    )
    assert charge["id"] in csv_body.decode()
