"""Charges written straight through the charge path's statements, for tests of the passes that claim them; and
waiting for a terminal to be let go."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from gateway.charging import store
from gateway.core.charge import Charge
from loadtests.charge_cost import new_charge

LONG_AGO = datetime(1990, 1, 1, tzinfo=UTC)  # before any other test's rows fall due


async def stored(db, charge: Charge) -> None:
    [result] = await store.insert_charges(db, [store.ChargeInsert(charge, f"key-{charge.id.hex}", b"hash")])
    assert isinstance(result, store.StoredCharge)


async def completed_with_settle_call(db, due_at: datetime) -> uuid.UUID:
    """A completed charge whose separate settle call falls due at `due_at`."""
    charge = new_charge(office=1, now=datetime.now(UTC), next_recovery_at=datetime.now(UTC))
    await stored(db, charge)
    await db.execute("UPDATE charges SET status = 'completed', next_recovery_at = NULL WHERE id = $1", charge.id)
    await db.execute("INSERT INTO settle_calls (charge_id, next_at) VALUES ($1, $2)", charge.id, due_at)
    return charge.id


async def until_free(redis, key: str, timeout: float = 10.0) -> None:
    """Until the terminal lock `key` is gone: a release waits a moment for a script to go with. Looks with GET."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await redis.get(key) is not None:
        assert asyncio.get_running_loop().time() < deadline, "the terminal was never let go"
        await asyncio.sleep(0.01)
