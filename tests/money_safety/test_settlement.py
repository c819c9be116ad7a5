"""Split settlement through the real path: the rows a charge carries and what each PSP recorded from the wire; the
row limit; and the separate settle call for the PSP that needs one, made only for charges with a receipt."""

from __future__ import annotations

import tomllib
import uuid

import pytest

from gateway.core.registry import RegistryError, parse_registry
from gateway.core.settlement import ORDINARY_PAYMENT_ID
from tests.money_safety.support import TERMINALS, assert_conserved, charge_of, now, stream
from tests.stack import DEMO_REGISTRY, charge_body

EXTRAS = [{"code": "scan_page", "quantity": 3}, {"code": "photo", "quantity": 1}]


@pytest.mark.parametrize("terminal_id", sorted(TERMINALS))
async def test_rows_sum_to_the_amount_and_reach_the_psp_as_stored(terminal_id, gateway, keys, sims, demo_registry):
    key = await keys(f"t:{terminal_id}")
    terminal = demo_registry["terminals"][terminal_id]
    office = demo_registry["offices"][terminal["office"]]
    agency = demo_registry["agencies"]["civil-registration"]
    amount = 350_000 + 150_000 + 3 * 20_000 + 100_000  # government fee, office fee and extras, under the caps

    status, charge = await gateway.charge(
        key, charge_body(terminal_id=terminal_id, operator_id=TERMINALS[terminal_id], amount=amount, extras=EXTRAS)
    )

    assert status == 201, charge
    rows = charge["settlement_rows"]
    assert sum(row["amount"] for row in rows) == amount
    assert rows == [
        {"iban": agency["iban"], "amount": charge["breakdown"]["government_share"], "payment_id": agency["payment_id"]},
        {
            "iban": office["iban"],
            "amount": amount - charge["breakdown"]["government_share"],
            "payment_id": ORDINARY_PAYMENT_ID,
        },
    ]
    assert len(rows) <= demo_registry["psps"][terminal["psp"]]["capabilities"]["split_row_limit"]
    recorded = await sims[terminal["psp"]].entry(charge["id"])
    assert recorded["settlement_rows"] == rows and recorded["amount"] == amount


def test_a_registry_whose_psp_cannot_carry_the_rows_is_refused_at_load():
    document = tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8"))
    document["psps"]["psp-sadad"]["capabilities"]["split_row_limit"] = 1
    with pytest.raises(RegistryError, match=r"psp-sadad\.capabilities\.split_row_limit"):
        parse_registry(document)
    document["psps"]["psp-sadad"]["capabilities"]["split_row_limit"] = 2
    assert parse_registry(document).psps["psp-sadad"].capabilities.split_row_limit == 2


async def test_the_separate_settle_call_follows_completion_only(gateway, keys, sims, db, psp_hosts):
    since = now()
    await sims["psp-sadad"].script("10000003", "approve", "decline:51", "approve")
    # Only this test's charges may be due below. Settle what earlier tests left, including calls that a gateway
    # they stopped had claimed (due only when the claim's lease ends); any whose settle call keeps failing waits
    # until after this test.
    await db.execute("UPDATE settle_calls SET next_at = now()")
    while await gateway.services.settlement.run_once():
        pass
    await db.execute("UPDATE settle_calls SET next_at = now() + interval '1 hour'")
    sent = await stream(gateway, keys, per_terminal=3, terminals=("10000003", "10000001"))
    ids = [uuid.UUID(charge_of(s.status, s.answer)["id"]) for s in sent]
    scheduled = {
        r["id"]: r
        for r in await db.fetch(
            "SELECT c.id, c.psp_id, c.status, s.charge_id IS NOT NULL AS has_settle_call "
            "FROM charges c LEFT JOIN settle_calls s ON s.charge_id = c.id WHERE c.id = ANY($1::uuid[])",
            ids,
        )
    }
    # Only the completed charges of the PSP that settles separately wait for a settle call.
    assert {(r["psp_id"], r["status"], r["has_settle_call"]) for r in scheduled.values()} == {
        ("psp-sadad", "completed", True),
        ("psp-sadad", "declined", False),
        ("psp-mellat", "completed", False),
    }
    ours = "SELECT charge_id FROM settle_calls WHERE charge_id = ANY($1::uuid[])"

    # A settle call that gets no answer is tried again later.
    await sims["psp-sadad"].fault("drop_reply", "10000003", operation="settle")
    assert await gateway.services.settlement.run_once() == 2
    retried = await db.fetch(
        "SELECT c.settled_at, s.attempts, s.next_at > now() AS later, s.last_note "
        "FROM settle_calls s JOIN charges c ON c.id = s.charge_id WHERE s.charge_id = ANY($1::uuid[])",
        ids,
    )
    assert [(r["settled_at"], r["attempts"], r["later"]) for r in retried] == [(None, 1, True)]
    assert retried[0]["last_note"].startswith("settle: ")
    await db.execute("UPDATE settle_calls SET next_at = now() WHERE charge_id = ANY($1::uuid[])", ids)
    assert await gateway.services.settlement.run_once() == 1
    assert await gateway.services.settlement.run_once() == 0
    # Settle calls made are gone: the table holds only those still to make.
    assert await db.fetch(ours, ids) == []

    states = {str(i): (await sims[r["psp_id"]].entry(str(i)))["state"] for i, r in scheduled.items()}
    settled = {
        str(r["id"])
        for r in await db.fetch("SELECT id FROM charges WHERE settled_at IS NOT NULL AND created_at >= $1", since)
    }
    assert {i for i, state in states.items() if state == "settled"} == settled
    assert len(settled) == 2
    await assert_conserved(db, psp_hosts, since)
