"""A PSP never forgets its ledger: a simulator stopped and started again on its files (as `make run` keeps them under
var/dev/psp/) still holds every purchase, answers about them, keeps its scripted state and its deadlines, and a
conservation check of charges made before the restart is clean."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from gateway.conservation.check import GatewayCharge, compare
from gateway.core.psp import TxnState
from psp_adapters.registry import create_adapter
from simulators.psp.ledger import Ledger, LedgerEntry
from tests.simulators.psp_support import CAPABILITIES, SimulatorControl, new_purchase, start_simulator, txn_ref

# Long enough that a stop and a start of the simulator on a busy machine stay well inside it.
VERIFY_DEADLINE_S = 10


def _start(files, *options: str):
    ledger, state = files
    return start_simulator("--psp-id", "psp-kept", "--ledger", str(ledger), "--state", str(state), *options)


def _adapter(host):
    return create_adapter("psp-kept", "iso8583-tcp", {"host": "127.0.0.1", "port": host.port}, CAPABILITIES, 2.0)


def _charge_of(entry: dict, status: str) -> GatewayCharge:
    return GatewayCharge(
        id=entry["reference"],
        psp_id="psp-kept",
        terminal_id=entry["terminal_id"],
        stan=entry["stan"],
        amount=entry["amount"],
        status=status,
        settlement_rows=entry["settlement_rows"],
        settled=False,
        receipts=int(status == "completed"),
        sms_messages=int(status == "completed"),
        verify_deadline=datetime.now(UTC),
    )


async def test_a_restarted_simulator_keeps_its_ledger_and_answers_about_it(tmp_path, http_session):
    files = (tmp_path / "psp.ledger.jsonl", tmp_path / "psp.state.json")
    host = _start(files)
    adapter = _adapter(host)
    try:
        verified = new_purchase()
        await adapter.verify(txn_ref(verified, await adapter.purchase(verified)))
        declined = new_purchase()
        await SimulatorControl(host, http_session).script(declined.terminal_id, "decline:51")
        assert (await adapter.purchase(declined)).response_code == "51"
        before = await SimulatorControl(host, http_session).ledger()
    finally:
        await adapter.close()
        host.stop()

    host = _start(files)
    adapter = _adapter(host)
    try:
        after = await SimulatorControl(host, http_session).ledger()
        assert after == before
        inquiry = await adapter.inquire(txn_ref(verified, None))
        assert inquiry.state is TxnState.VERIFIED
        # Retrieval numbers carry on: a new purchase never reuses one issued before the restart.
        fresh = new_purchase()
        reply = await adapter.purchase(fresh)
        assert reply.rrn not in {entry["rrn"] for entry in before}
    finally:
        await adapter.close()
        host.stop()

    # The charges of the first run, completed and declined in the gateway, against the restarted PSP's ledger.
    states = {verified.reference: "completed", declined.reference: "declined"}
    charges = [_charge_of(entry, states[entry["reference"]]) for entry in before]
    assert compare({"psp-kept": after}, charges) == []


async def test_scripted_answers_and_faults_outlive_a_restart(tmp_path, http_session):
    files = (tmp_path / "psp.ledger.jsonl", tmp_path / "psp.state.json")
    host = _start(files)
    terminal = new_purchase().terminal_id
    control = SimulatorControl(host, http_session)
    adapter = _adapter(host)
    try:
        await control.script(terminal, "decline:55", "decline:61", "cancel")
        await control.pin_delay(terminal, 10)
        await control.fault("slow_reply", terminal, operation="inquiry", count=2, delay_ms=1)
        assert (await adapter.purchase(new_purchase(terminal))).response_code == "55"
    finally:
        await adapter.close()
        host.stop()

    host = _start(files)
    control = SimulatorControl(host, http_session)
    adapter = _adapter(host)
    try:
        assert (await adapter.purchase(new_purchase(terminal))).response_code == "61"
        assert (await adapter.purchase(new_purchase(terminal))).response_code == "99"
        async with http_session.get(host.control_url + "/faults") as response:
            (fault,) = (await response.json())["faults"]
        assert (fault["kind"], fault["terminal_id"], fault["remaining"]) == ("slow_reply", terminal, 2)
    finally:
        await adapter.close()
        host.stop()


async def test_an_approval_left_unverified_is_still_reversed_at_its_deadline_after_a_restart(tmp_path, http_session):
    files = (tmp_path / "psp.ledger.jsonl", tmp_path / "psp.state.json")
    host = _start(files, "--verify-deadline-s", str(VERIFY_DEADLINE_S))
    adapter = _adapter(host)
    try:
        approved = new_purchase()
        assert (await adapter.purchase(approved)).response_code == "00"
    finally:
        await adapter.close()
        host.stop()

    host = _start(files, "--verify-deadline-s", str(VERIFY_DEADLINE_S))
    control = SimulatorControl(host, http_session)
    try:
        # Still approved across the restart: the deadline, not the restart, reverses it.
        assert (await control.entry(approved.reference))["state"] == "approved"
        for _ in range(VERIFY_DEADLINE_S * 20):
            if (await control.entry(approved.reference))["state"] == "reversed":
                break
            await asyncio.sleep(0.1)
        assert (await control.entry(approved.reference))["state"] == "reversed"
    finally:
        host.stop()


def test_reset_is_remembered_too(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger("psp-kept", path)
    ledger.open(LedgerEntry("10000001", "000000110000001", "000001", "0101000000", 1000, str(uuid.uuid4()), []))
    ledger.reset()
    ledger.open(LedgerEntry("10000001", "000000110000001", "000002", "0101000001", 2000, "kept", []))
    ledger.close()

    assert [entry["reference"] for entry in Ledger("psp-kept", path).entries()] == ["kept"]
