"""For each fault a network or a PSP can produce: a stream of charges with the fault injected at every PSP, recovery
run to the end, then the conservation check is clean and every retried request gets the final answer."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.charging.store import PENDING_STATUSES
from tests.money_safety.support import (
    PSP_TIMEOUT_S,
    PURCHASE_TIMEOUT_S,
    assert_conserved,
    assert_replays_agree,
    drive_recovery,
    new_body,
    now,
    pending_notes,
    stream,
)

PURCHASE_LATE_MS = int(PURCHASE_TIMEOUT_S * 1000) + 500
FOLLOW_UP_LATE_MS = int(PSP_TIMEOUT_S * 1000) + 500

# kind: the (operation, delay_ms) of each fault injected, once per PSP.
FAULTS = {
    "slow_reply": [("purchase", PURCHASE_LATE_MS), ("verify", FOLLOW_UP_LATE_MS), ("inquiry", FOLLOW_UP_LATE_MS)],
    "drop_reply": [("purchase", 0), ("verify", 0), ("inquiry", 0)],
    "duplicate_reply": [("purchase", 0), ("verify", 0)],  # nothing is left for an inquiry
    "reset_connection": [("purchase", 0), ("verify", 0), ("inquiry", 0)],
    "garble_reply": [("purchase", 0), ("verify", 0), ("inquiry", 0)],
    "late_reply": [("purchase", 0), ("verify", 0)],  # held until the purchase is reversed
    "terminal_unreachable": [("purchase", 300)],
}


async def _pending_faults(http_session, psp_hosts) -> dict[str, list]:
    faults = {}
    for psp_id, host in psp_hosts.items():
        async with http_session.get(host.control_url + "/faults") as response:
            faults[psp_id] = (await response.json())["faults"]
    return faults


@pytest.fixture
async def clean_faults(sims):
    yield
    for sim in sims.values():
        await sim.clear_faults()


@pytest.mark.parametrize("kind", sorted(FAULTS))
async def test_a_stream_of_charges_through_a_fault(
    kind, gateway, keys, sims, db, psp_hosts, http_session, clean_faults
):
    since = now()
    for psp_id in ("psp-mellat", "psp-saman", "psp-sadad"):
        for operation, delay_ms in FAULTS[kind]:
            await sims[psp_id].fault(kind, None, operation=operation, delay_ms=delay_ms)

    sent = await stream(gateway, keys, per_terminal=2)
    if kind == "late_reply":
        # The approvals held back are only let go by a reversal: let the deadline force one.
        await db.execute(
            "UPDATE charges SET verify_deadline = now() WHERE created_at >= $1 AND status = ANY($2::text[])",
            since,
            PENDING_STATUSES,
        )
    await drive_recovery(gateway.services.recovery, db, since)

    assert {s.status for s in sent} <= {201, 202, 402}, sent
    left = {psp: faults for psp, faults in (await _pending_faults(http_session, psp_hosts)).items() if faults}
    assert not left, f"faults never met: {left}"
    await assert_conserved(db, psp_hosts, since)
    await assert_replays_agree(gateway, keys, sent, db)


async def test_a_psp_host_that_is_down_leaves_charges_pending_until_it_answers(
    gateway, keys, sims, db, psp_hosts, clean_faults
):
    since = now()
    mellat = sims["psp-mellat"]
    await mellat.pin_delay("10000004", 800)
    try:
        # One purchase reaches the terminal before the host goes down; its reply is lost with the connection.
        at_terminal = asyncio.create_task(gateway.charge(await keys("t:10000004"), new_body("10000004")))
        await asyncio.sleep(0.3)
        await mellat.host_down()
        unreached = await stream(gateway, keys, per_terminal=1, terminals=("10000001",))
        status, answer = await at_terminal
    finally:
        await mellat.pin_delay("10000004", 0)
    assert status == 202 and {s.status for s in unreached} == {202}
    # The PSP may yet hold the unreached purchase: no second card on that terminal until it is final.
    busy_status, busy = await gateway.charge(await keys("t:10000001"), new_body("10000001"))
    assert (busy_status, busy["error"]["details"]["charge_id"]) == (409, unreached[0].answer["id"])

    # While the host stays down, recovery learns nothing and finalises nothing.
    for _ in range(3):
        await db.execute("UPDATE charges SET next_recovery_at = now() WHERE created_at >= $1", since)
        await gateway.services.recovery.run_once()
    assert len(await pending_notes(db, since)) == 2

    await mellat.clear_faults()
    await drive_recovery(gateway.services.recovery, db, since)
    statuses = {
        r["id"]: r["status"] for r in await db.fetch("SELECT id, status FROM charges WHERE created_at >= $1", since)
    }
    assert statuses.pop(uuid.UUID(answer["id"])) == "completed"
    assert set(statuses.values()) == {"expired"}  # never reached the PSP
    await assert_conserved(db, psp_hosts, since)
    await assert_replays_agree(gateway, keys, unreached, db)
