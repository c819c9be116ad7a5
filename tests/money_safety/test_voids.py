"""Voids of completed charges: a reversal at the PSP and one cancellation receipt, whatever the network or the PSP
does to the reversal and the inquiries that follow it; repeated and concurrent voids; the window and the refusals."""

from __future__ import annotations

import asyncio
import random
import uuid

import aiohttp
import pytest

from tests.money_safety.gateway_process import GatewayProcess
from tests.money_safety.support import (
    PSP_TIMEOUT_S,
    TERMINALS,
    assert_conserved,
    drive_recovery,
    new_body,
    now,
)

FOLLOW_UP_LATE_MS = int(PSP_TIMEOUT_S * 1000) + 500
# The terminal of each PSP (mellat and saman speak ISO 8583, sadad the cloud PC-POS API).
PSP_TERMINALS = {"psp-mellat": "10000001", "psp-saman": "10000006", "psp-sadad": "10000003"}
VOID_BODY = {"reason": "wrong_service", "reason_text": "خدمت اشتباه انتخاب شد"}

# kind: the (operation, delay_ms) of each fault injected on the void's PSP calls.
VOID_FAULTS = {
    "slow_reply": [("reverse", FOLLOW_UP_LATE_MS), ("inquiry", FOLLOW_UP_LATE_MS)],
    "drop_reply": [("reverse", 0), ("inquiry", 0)],
    "duplicate_reply": [("reverse", 0)],
    "reset_connection": [("reverse", 0), ("inquiry", 0)],
    "garble_reply": [("reverse", 0), ("inquiry", 0)],
    "late_reply": [("reverse", 0)],  # held until the purchase is reversed: the reversal itself lets it go
}


@pytest.fixture
async def clean_faults(sims):
    yield
    for sim in sims.values():
        await sim.clear_faults()


async def completed_charge(gateway, keys, terminal_id: str) -> dict:
    """A completed charge. A PC-POS connection that met a duplicate reply can make the next purchase unclear (then
    expired), so a charge that did not complete is tried again as a new one."""
    key = await keys(f"t:{terminal_id}")
    for _ in range(3):
        since = now()
        body, idempotency_key = new_body(terminal_id), uuid.uuid4().hex
        status, answer = await gateway.charge(key, body, idempotency_key)
        if status == 202:
            await drive_recovery(gateway.services.recovery, gateway.services.pool, since)
            status, answer = await gateway.charge(key, body, idempotency_key)
        if status == 201:
            return answer
    raise AssertionError(f"no charge completed on {terminal_id}: {answer}")


async def void(gateway, keys, terminal_id: str, charge_id: str, idempotency_key: str | None = None, body=None):
    return await gateway.request(
        "POST",
        f"/v1/charges/{charge_id}/void",
        key=await keys(f"t:{terminal_id}"),
        json=body or VOID_BODY,
        headers={"Idempotency-Key": idempotency_key or uuid.uuid4().hex},
    )


async def drive_void_recovery(gateway, db, since, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending := await db.fetch(
        "SELECT id, status, last_psp_note FROM voids WHERE created_at >= $1 AND status IN ('requested', 'sent')", since
    ):
        assert loop.time() < deadline, f"voids still pending after {timeout} s: {pending}"
        await db.execute(
            "UPDATE voids SET next_recovery_at = now() WHERE created_at >= $1 AND status IN ('requested', 'sent')",
            since,
        )
        await gateway.services.void_recovery.run_once()
        await asyncio.sleep(0.1)


async def reversals_at_psp(sims, psp_id: str, charge_id: str) -> int:
    """How many times the PSP moved the purchase to reversed (a reversal is idempotent: once at most)."""
    entry = await sims[psp_id].entry(charge_id)
    return sum(1 for change in entry["history"] if change["state"] == "reversed")


async def assert_voided_once(db, sims, psp_id: str, charge_id: str) -> None:
    assert await reversals_at_psp(sims, psp_id, charge_id) == 1
    rows = await db.fetch("SELECT kind, signed FROM receipts WHERE charge_id = $1 ORDER BY seq", uuid.UUID(charge_id))
    assert [r["kind"] for r in rows] == ["charge", "cancellation"]
    original, cancellation = (r["signed"]["receipt"] for r in rows)
    assert cancellation["cancels"]["tracking_code"] == original["tracking_code"]
    assert cancellation["seq"] > original["seq"]
    assert (await db.fetchval("SELECT status FROM voids WHERE charge_id = $1", uuid.UUID(charge_id))) == "reversed"
    # A reversed purchase is never settled: the void took away its separate settle call, if its PSP has one.
    assert await db.fetchval("SELECT count(*) FROM settle_calls WHERE charge_id = $1", uuid.UUID(charge_id)) == 0


@pytest.mark.parametrize("psp_id", sorted(PSP_TERMINALS))
async def test_a_void_within_the_window_reverses_and_issues_a_cancellation_receipt(
    psp_id, gateway, keys, sims, db, psp_hosts
):
    since = now()
    terminal_id = PSP_TERMINALS[psp_id]
    charge = await completed_charge(gateway, keys, terminal_id)

    status, answer = await void(gateway, keys, terminal_id, charge["id"])

    assert status == 201, answer
    assert answer["status"] == "reversed" and answer["amount"] == charge["amount"]
    assert answer["cancellation_tracking_code"] and answer["cancellation_tracking_code"] != charge["tracking_code"]
    assert (await sims[psp_id].entry(charge["id"]))["state"] == "reversed"
    await assert_voided_once(db, sims, psp_id, charge["id"])
    status, read = await gateway.request("GET", f"/v1/charges/{charge['id']}/void", key=await keys(f"t:{terminal_id}"))
    assert (status, read) == (200, answer)
    await assert_conserved(db, psp_hosts, since)


@pytest.mark.parametrize("kind", sorted(VOID_FAULTS))
async def test_a_void_through_every_fault_reverses_exactly_once(kind, gateway, keys, sims, db, psp_hosts, clean_faults):
    since = now()
    charges = {psp_id: await completed_charge(gateway, keys, t) for psp_id, t in PSP_TERMINALS.items()}
    for psp_id in PSP_TERMINALS:
        for operation, delay_ms in VOID_FAULTS[kind]:
            await sims[psp_id].fault(kind, None, operation=operation, delay_ms=delay_ms)

    first = {
        psp_id: await void(gateway, keys, PSP_TERMINALS[psp_id], charge["id"], f"void-{charge['id']}")
        for psp_id, charge in charges.items()
    }
    await drive_void_recovery(gateway, db, since)

    assert {status for status, _ in first.values()} <= {201, 202}, first
    for psp_id, charge in charges.items():
        await assert_voided_once(db, sims, psp_id, charge["id"])
        status, answer = await void(gateway, keys, PSP_TERMINALS[psp_id], charge["id"], f"void-{charge['id']}")
        assert status == 201 and answer["status"] == "reversed", answer
    await assert_conserved(db, psp_hosts, since)


async def test_a_void_while_the_psp_host_is_down_waits_and_then_reverses(
    gateway, keys, sims, db, psp_hosts, clean_faults
):
    since = now()
    charge = await completed_charge(gateway, keys, "10000001")
    await sims["psp-mellat"].host_down()

    status, answer = await void(gateway, keys, "10000001", charge["id"])
    assert (status, answer["status"]) == (202, "sent")
    for _ in range(3):
        await db.execute("UPDATE voids SET next_recovery_at = now() WHERE created_at >= $1", since)
        await gateway.services.void_recovery.run_once()
    assert (await db.fetchval("SELECT status FROM voids WHERE id = $1", uuid.UUID(answer["id"]))) == "sent"

    await sims["psp-mellat"].clear_faults()
    await drive_void_recovery(gateway, db, since)
    await assert_voided_once(db, sims, "psp-mellat", charge["id"])
    await assert_conserved(db, psp_hosts, since)


async def test_the_same_key_replays_and_another_key_is_refused(gateway, keys, sims, db):
    charge = await completed_charge(gateway, keys, "10000002")
    key = uuid.uuid4().hex
    first = await void(gateway, keys, "10000002", charge["id"], key)
    again = await void(gateway, keys, "10000002", charge["id"], key)
    other = await void(gateway, keys, "10000002", charge["id"])
    changed = await void(gateway, keys, "10000002", charge["id"], key, body={**VOID_BODY, "reason": "other"})

    assert first[0] == 201 and again == first
    assert other[0] == 422 and other[1]["error"]["code"] == "charge_already_voided"
    assert changed[0] == 409 and changed[1]["error"]["code"] == "idempotency_key_reused"
    await assert_voided_once(db, sims, "psp-saman", charge["id"])


async def test_concurrent_voids_with_different_keys_reverse_once(gateway, keys, sims, db):
    charge = await completed_charge(gateway, keys, "10000004")
    answers = await asyncio.gather(*(void(gateway, keys, "10000004", charge["id"]) for _ in range(4)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 422, 422, 422], answers
    await assert_voided_once(db, sims, "psp-mellat", charge["id"])


async def test_a_charge_not_completed_cannot_be_voided_and_nothing_is_stored(gateway, keys, sims, db):
    await sims["psp-mellat"].script("10000001", "decline:51")
    status, declined = await gateway.charge(await keys("t:10000001"), new_body("10000001"))
    assert status == 402
    charge_id = declined["error"]["details"]["charge"]["id"]

    status, answer = await void(gateway, keys, "10000001", charge_id)

    assert status == 422 and answer["error"]["code"] == "charge_not_completed"
    assert await db.fetchval("SELECT count(*) FROM voids WHERE charge_id = $1", uuid.UUID(charge_id)) == 0


async def test_after_the_window_the_answer_is_409_and_nothing_reaches_the_psp(gateway, keys, sims, db):
    charge = await completed_charge(gateway, keys, "10000002")
    await db.execute(
        "UPDATE charges SET created_at = created_at - interval '3 hours' WHERE id = $1", uuid.UUID(charge["id"])
    )

    status, answer = await void(gateway, keys, "10000002", charge["id"])

    assert status == 409 and answer["error"]["code"] == "void_window_closed"
    assert answer["error"]["details"]["next_step"] == "refund"
    assert (await sims["psp-saman"].entry(charge["id"]))["state"] == "verified"
    assert await db.fetchval("SELECT count(*) FROM voids WHERE charge_id = $1", uuid.UUID(charge["id"])) == 0


async def test_a_reversal_the_psp_refuses_leaves_the_charge_paid_and_asks_for_a_refund(
    gateway, keys, sims, db, psp_hosts
):
    since = now()
    charge = await completed_charge(gateway, keys, "10000003")
    # The PSP settled it before the settle worker recorded that: it is no longer reversible.
    stored = await gateway.services.charges.current(uuid.UUID(charge["id"]))
    assert (await gateway.services.psps.adapter("psp-sadad").settle(stored.txn_ref())).outcome == "approved"

    status, answer = await void(gateway, keys, "10000003", charge["id"])

    assert status == 409 and answer["error"]["code"] == "void_window_closed"
    assert answer["error"]["details"]["void"]["status"] == "refused"
    assert (await sims["psp-sadad"].entry(charge["id"]))["state"] == "settled"
    kinds = await db.fetch("SELECT kind FROM receipts WHERE charge_id = $1", stored.id)
    assert [r["kind"] for r in kinds] == ["charge"]
    await assert_conserved(db, psp_hosts, since)


async def test_another_offices_terminal_cannot_void_or_read(gateway, keys):
    charge = await completed_charge(gateway, keys, "10000001")
    other_office = next(t for t in TERMINALS if t not in ("10000001", "10000002"))
    status, answer = await void(gateway, keys, other_office, charge["id"])
    assert status == 404 and answer["error"]["code"] == "resource_missing"
    status, _ = await gateway.request("GET", f"/v1/charges/{charge['id']}/void", key=await keys(f"t:{other_office}"))
    assert status == 404


async def _post(session, url: str, key: str, path: str, body: dict, idempotency_key: str) -> tuple[int, dict] | None:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}
    try:
        async with session.post(url + path, json=body, headers=headers) as response:
            return response.status, await response.json()
    except (TimeoutError, aiohttp.ClientError):
        return None


async def test_a_kill_9_mid_void_ends_in_one_reversal_and_one_cancellation_receipt(
    gateway_env, keys, sims, db, psp_hosts, http_session, tmp_path, clean_faults
):
    since = now()
    server = GatewayProcess(gateway_env, tmp_path / "gateway.log")
    terminals = ("10000001", "10000004", "10000006")  # mellat (ISO 8583) twice, saman (PC-POS)
    api_keys = {t: await keys(f"t:{t}") for t in terminals}
    try:
        await server.start(http_session)
        charges = []
        for terminal_id in terminals * 2:
            answer = await _post(
                http_session, server.url, api_keys[terminal_id], "/v1/charges", new_body(terminal_id), uuid.uuid4().hex
            )
            assert answer is not None and answer[0] == 201, answer
            charges.append((terminal_id, answer[1]))
        # Each PSP reverses at once but answers late: a kill while the reply is on its way loses it.
        for psp_id in ("psp-mellat", "psp-saman"):
            await sims[psp_id].fault("slow_reply", None, operation="reverse", delay_ms=400, count=len(charges))

        voids = [(terminal_id, charge["id"], uuid.uuid4().hex) for terminal_id, charge in charges]
        in_flight = [
            asyncio.create_task(_post(http_session, server.url, api_keys[t], f"/v1/charges/{c}/void", VOID_BODY, idem))
            for t, c, idem in voids
        ]
        await asyncio.sleep(random.uniform(0.05, 0.3))
        server.kill()
        cut = [answer for answer in await asyncio.gather(*in_flight) if answer is None]
        assert cut, "no void was cut by the kill"
        await server.start(http_session)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while await db.fetchval(
            "SELECT count(*) FROM voids WHERE created_at >= $1 AND status IN ('requested', 'sent')", since
        ) or await db.fetchval("SELECT count(*) FROM voids WHERE created_at >= $1", since) < len(voids):
            # A void the kill cut before it was stored is sent again by its client, with the same key.
            for t, c, idem in voids:
                if not await db.fetchval("SELECT count(*) FROM voids WHERE charge_id = $1", uuid.UUID(c)):
                    await _post(http_session, server.url, api_keys[t], f"/v1/charges/{c}/void", VOID_BODY, idem)
            assert loop.time() < deadline, "voids still pending after the restart"
            await asyncio.sleep(0.2)

        for t, c, idem in voids:
            replay = await _post(http_session, server.url, api_keys[t], f"/v1/charges/{c}/void", VOID_BODY, idem)
            assert replay is not None and replay[0] == 201 and replay[1]["status"] == "reversed", replay
            psp_id = "psp-saman" if t == "10000006" else "psp-mellat"
            await assert_voided_once(db, sims, psp_id, c)
            messages = await db.fetchval(
                "SELECT count(*) FROM outbox WHERE charge_id = $1 AND purpose = 'cancellation'", uuid.UUID(c)
            )
            assert messages == 2  # one SMS, one Iran Poosheh delivery
    finally:
        server.stop()
    await assert_conserved(db, psp_hosts, since)
