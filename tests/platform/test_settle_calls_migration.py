"""Migration 0185 moves the separate settle call's schedule out of charges into settle_calls: every settle call still
to make when the gateway is upgraded (due, retried or leased to a worker) is there afterwards with its time, attempts
and reason, the settle worker's claim takes it, and charges keep what they recorded (settled_at)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from uuid_utils.compat import uuid7

from gateway.charging import store
from gateway.charging.settle_worker import LEASE
from gateway.core.clock import system_clock
from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from tests.platform.schema_history import migrate_until

_CHARGE = """
INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity, extras,
                     recipient_name, recipient_national_code, recipient_mobile, amount, breakdown, tariff_reference,
                     settlement_rows, status, verify_deadline, created_at, completed_at, tracking_code,
                     next_settle_at, settle_attempts, last_psp_note, settled_at)
VALUES ($1, '11110001', '10000003', 'm-1', 'psp-sadad', 'op-13', '1101', 1, '[]', 'x', '0012345679', '09121234567',
        700000, '{}', 'CRA-COM-1402-07', '[]', 'completed', $2, $2, $2, $3, $4, $5, $6, $7)
"""


async def test_settle_calls_still_to_make_survive_the_upgrade(empty_database):
    await migrate_until(empty_database, "0185")
    now = system_clock()
    ids = {name: uuid.UUID(str(uuid7())) for name in ("due", "retried", "leased", "settled", "no_separate_settle")}
    before = {
        # name: (next_settle_at, settle_attempts, last_psp_note, settled_at)
        "due": (now - timedelta(seconds=5), 0, "verify: approved", None),
        "retried": (now + timedelta(minutes=4), 2, "settle: no_answer", None),
        "leased": (now + LEASE / 2, 0, None, None),
        "settled": (None, 1, "settle: no_answer", now - timedelta(minutes=1)),
        "no_separate_settle": (None, 0, None, None),
    }
    conn = await connect(empty_database)
    try:
        for n, (name, values) in enumerate(before.items(), start=1):
            await conn.execute(_CHARGE, ids[name], now, f"code-{n}", *values)

        assert "0185_settle_calls.sql" in await apply_migrations(empty_database)

        calls = {row["charge_id"]: tuple(row.values())[1:] for row in await conn.fetch("SELECT * FROM settle_calls")}
        assert calls == {
            ids["due"]: (before["due"][0], 0, None),
            ids["retried"]: (before["retried"][0], 2, "settle: no_answer"),
            ids["leased"]: (before["leased"][0], 0, None),
        }
        settled = await conn.fetch("SELECT id FROM charges WHERE settled_at IS NOT NULL")
        assert [row["id"] for row in settled] == [ids["settled"]]
        columns = await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'charges'::regclass AND attnum > 0 AND NOT attisdropped"
        )
        assert {row["attname"] for row in columns}.isdisjoint({"next_settle_at", "settle_attempts"})

        # The worker takes each call when it falls due: the due one now, the leased one when the old lease ends, the
        # retried one at its time, with its attempts so far.
        for at, expected in [
            (now, [(ids["due"], 0)]),
            (before["leased"][0], [(ids["leased"], 0)]),
        ]:
            claimed = await store.claim_due_settlements(conn, at, at + LEASE, 100)
            assert [(item.charge.id, item.attempts) for item in claimed] == expected, at
        # By then the two claimed above are due again too: their leases ended without a result, as after a kill.
        claimed = await store.claim_due_settlements(conn, before["retried"][0], before["retried"][0] + LEASE, 100)
        assert sorted((item.charge.id, item.attempts) for item in claimed) == sorted(
            [(ids["due"], 0), (ids["leased"], 0), (ids["retried"], 2)]
        )
    finally:
        await conn.close()
