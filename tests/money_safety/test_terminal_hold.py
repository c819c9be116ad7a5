"""One card at a time per terminal until the charge is final: a charge its request leaves pending (the PSP never
answered) keeps the terminal, a second card is refused with the holder's id and never pushed, recovery frees the
terminal when it resolves the charge, and a holder with nothing in flight does not block it."""

from __future__ import annotations

import time
import uuid

from uuid_utils.compat import uuid7

from gateway.charging.service import UNSTORED_HOLDER_GRACE_S
from gateway.charging.terminal_lock import lock_token
from tests.money_safety.support import drive_recovery, new_body, now

TERMINAL, OFFICE, PSP = "10000006", "51110005", "psp-saman"


def _lock_key() -> str:
    return f"pishkhan:{{{OFFICE}}}:terminal:{TERMINAL}:busy"


async def _pushes(sims) -> int:
    return len([e for e in await sims[PSP].ledger() if e["terminal_id"] == TERMINAL])


async def test_a_pending_charge_holds_its_terminal_until_recovery_makes_it_final(gateway, keys, sims, db):
    key, since = await keys(f"t:{TERMINAL}"), now()
    await sims[PSP].script(TERMINAL, "no_answer")

    status, pending = await gateway.charge(key, new_body(TERMINAL))

    assert status == 202 and pending["status"] in ("sent", "created"), pending
    pushed = await _pushes(sims)
    status, busy = await gateway.charge(key, new_body(TERMINAL))
    assert (status, busy["error"]["code"]) == (409, "terminal_busy")
    assert busy["error"]["details"]["charge_id"] == pending["id"]
    assert await _pushes(sims) == pushed, "the second card never reached the terminal"

    await drive_recovery(gateway.services.recovery, db, since)

    assert await gateway.services.redis.get(_lock_key()) is None, "recovery let the terminal go"
    status, charge = await gateway.charge(key, new_body(TERMINAL))
    assert status == 201 and charge["status"] == "completed"


async def test_a_holder_whose_charge_is_final_is_taken_over(gateway, keys, db):
    key = await keys(f"t:{TERMINAL}")
    status, finished = await gateway.charge(key, new_body(TERMINAL))
    assert status == 201
    # What a lost release leaves behind (Redis back from its snapshot, or a gateway killed after the charge ended).
    await gateway.services.redis.set(_lock_key(), lock_token(uuid.UUID(finished["id"]), "gone"))

    status, charge = await gateway.charge(key, new_body(TERMINAL))

    assert status == 201 and charge["status"] == "completed"


async def test_a_holder_that_never_stored_its_charge_blocks_only_for_its_grace(gateway, keys):
    key, redis = await keys(f"t:{TERMINAL}"), gateway.services.redis
    fresh = lock_token(uuid7(), "storing-now")
    await redis.set(_lock_key(), fresh)
    status, busy = await gateway.charge(key, new_body(TERMINAL))
    assert (status, busy["error"]["code"]) == (409, "terminal_busy"), "it may be about to store it"

    taken_ms = int((time.time() - UNSTORED_HOLDER_GRACE_S - 1) * 1000)
    old = uuid.UUID(int=(taken_ms << 80) | (uuid7().int & ((1 << 80) - 1)))
    await redis.set(_lock_key(), lock_token(old, "died-before-storing"))

    status, charge = await gateway.charge(key, new_body(TERMINAL))

    assert status == 201 and charge["status"] == "completed"
