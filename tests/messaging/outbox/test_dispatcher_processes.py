"""Dispatchers as separate `pishkhan outbox run` processes: one killed mid-batch, and two at once."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time

from tests.messaging.outbox.support import outbox_rows


async def wait_for(condition, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def finish(process, within: float) -> int:
    deadline = time.monotonic() + within
    while process.poll() is None:
        assert time.monotonic() < deadline, "the dispatcher did not finish"
        await asyncio.sleep(0.05)
    return process.returncode


async def test_a_dispatcher_killed_mid_batch_is_finished_by_another_without_duplicates(
    db, sms_centre, inbox, completed_charges, outbox_settings, outbox_process
):
    made = await completed_charges(4)
    charges = [charge for charge, _ in made]
    for _, recipient in made:
        # The centre and the inbox take each message at once but answer only 15 s later; the dispatcher waits up
        # to 30 s for the answers, so it is still waiting when it is killed.
        await sms_centre.arm(kind="slow_answer", hold_s=15, recipient=recipient.mobile)
        await inbox.arm(kind="slow_answer", hold_s=15, address=recipient.inbox)
    settings = dataclasses.replace(outbox_settings, messaging_timeout_s=30, outbox_lease_s=1.5)
    doomed = outbox_process(settings)

    async def all_taken():
        return all(
            [await sms_centre.handset(recipient.mobile) for _, recipient in made]
            + [await inbox.inbox(recipient.inbox) for _, recipient in made]
        )

    await wait_for(all_taken, 12, "the provider and the inbox to take every message")
    doomed.send_signal(signal.SIGKILL)
    assert await finish(doomed, 5) == -signal.SIGKILL
    for channel in ("sms", "poosheh"):
        claimed = await outbox_rows(db, charges, channel)
        assert {(row["status"], row["attempts"]) for row in claimed.values()} == {("pending", 1)}, channel

    assert await finish(outbox_process(settings, "--until-idle"), 30) == 0

    sms_rows, inbox_rows = await outbox_rows(db, charges, "sms"), await outbox_rows(db, charges, "poosheh")
    for charge, recipient in made:
        assert len(await sms_centre.handset(recipient.mobile)) == 1
        assert len(await inbox.inbox(recipient.inbox)) == 1
        assert (sms_rows[charge["id"]]["status"], sms_rows[charge["id"]]["attempts"]) == ("sent", 2)
        assert (inbox_rows[charge["id"]]["status"], inbox_rows[charge["id"]]["attempts"]) == ("delivered", 2)


async def test_two_dispatchers_at_once_take_each_message_once(
    db, sms_centre, inbox, completed_charges, outbox_settings, outbox_process
):
    made = await completed_charges(8)
    charges = [charge for charge, _ in made]
    for _, recipient in made:
        await sms_centre.arm(kind="slow_answer", hold_s=0.1, recipient=recipient.mobile)
    # Small batches, so both processes keep claiming while the other is busy sending.
    settings = dataclasses.replace(outbox_settings, outbox_batch=2, messaging_timeout_s=5)

    first, second = outbox_process(settings, "--until-idle"), outbox_process(settings, "--until-idle")
    assert (await finish(first, 30), await finish(second, 30)) == (0, 0)

    for channel in ("sms", "poosheh"):
        rows = await outbox_rows(db, charges, channel)
        # One claim each: no message was ever taken by both dispatchers.
        assert {row["attempts"] for row in rows.values()} == {1}, channel
    for _, recipient in made:
        assert len(await sms_centre.handset(recipient.mobile)) == 1
        assert len(await inbox.inbox(recipient.inbox)) == 1
