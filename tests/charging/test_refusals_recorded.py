"""Every refusal of a terminal's charge request is recorded for the regulator: a payment method that is not exactly
`card` (however it is spelt, missing or empty included), a charge on another terminal, and every rule a request
breaks, not only the first."""

from __future__ import annotations

import uuid

import pytest

from tests.stack import charge_body


async def _refusals_since(db, first_id: int) -> list:
    return await db.fetch("SELECT * FROM refusals WHERE id > $1 ORDER BY id", first_id)


async def _last_refusal_id(db) -> int:
    return await db.fetchval("SELECT coalesce(max(id), 0) FROM refusals")


@pytest.mark.parametrize("method", [" card", "card ", "card\u00a0", "\u200bcard", "CARD", "Card", "کارت", "ｃａｒｄ"])
async def test_a_payment_method_not_spelt_exactly_card_is_invalid_and_recorded(gateway, keys, db, sims, method):
    before_ledger = len(await sims["psp-mellat"].ledger())
    before_charges = await db.fetchval("SELECT count(*) FROM charges")
    since = await _last_refusal_id(db)

    status, error = await gateway.charge(await keys("t:10000001"), charge_body(payment_method=method))

    assert status == 400, error
    assert error["error"]["code"] == "payment_method_invalid" and error["error"]["param"] == "payment_method"
    [refusal] = await _refusals_since(db, since)
    assert refusal["reason"] == "payment_method_invalid" and refusal["payment_method"] == method
    assert refusal["terminal_id"] == "10000001" and refusal["office_id"] == "11110001"
    assert len(await sims["psp-mellat"].ledger()) == before_ledger
    assert await db.fetchval("SELECT count(*) FROM charges") == before_charges


@pytest.mark.parametrize("method", [None, ""])
async def test_a_missing_or_empty_payment_method_is_recorded(gateway, keys, db, method):
    body = charge_body(payment_method=method)
    if method is None:
        del body["payment_method"]
    since = await _last_refusal_id(db)

    status, error = await gateway.charge(await keys("t:10000001"), body)

    assert (status, error["error"]["code"]) == (400, "payment_method_invalid")
    [refusal] = await _refusals_since(db, since)
    assert refusal["reason"] == "payment_method_invalid" and refusal["payment_method"] == method


async def test_another_method_word_is_the_cash_rule(gateway, keys, db):
    since = await _last_refusal_id(db)
    status, error = await gateway.charge(await keys("t:10000001"), charge_body(payment_method="bank_transfer"))
    assert (status, error["error"]["code"]) == (422, "cash_forbidden")
    assert [r["reason"] for r in await _refusals_since(db, since)] == ["cash_forbidden"]


async def test_a_charge_on_another_terminal_is_recorded_against_the_callers_terminal(gateway, keys, db, sims):
    since = await _last_refusal_id(db)
    before_ledger = len(await sims["psp-saman"].ledger())

    status, error = await gateway.charge(await keys("t:10000001"), charge_body(terminal_id="10000002"))

    assert (status, error["error"]["code"]) == (403, "terminal_mismatch")
    [refusal] = await _refusals_since(db, since)
    assert (refusal["reason"], refusal["terminal_id"], refusal["office_id"]) == (
        "terminal_mismatch",
        "10000001",
        "11110001",
    )
    assert refusal["details"]["terminal_id"] == "10000002"
    assert len(await sims["psp-saman"].ledger()) == before_ledger


async def test_every_broken_rule_is_recorded_and_named_in_the_answer(gateway, keys, db):
    """An excess fee, in cash, on the terminal of a suspended office: three rules, three records, one answer."""
    since = await _last_refusal_id(db)
    idem = uuid.uuid4().hex
    body = charge_body(terminal_id="10000007", operator_id="op-61", amount=900_000_000, payment_method="cash")

    status, error = await gateway.charge(await keys("t:10000007"), body, idem)

    assert (status, error["error"]["code"]) == (422, "cash_forbidden")
    others = [other["code"] for other in error["error"]["details"]["other_refusals"]]
    assert others == ["office_license_inactive", "excess_fee"]
    recorded = await _refusals_since(db, since)
    assert [r["reason"] for r in recorded] == ["cash_forbidden", "office_license_inactive", "excess_fee"]
    assert recorded[2]["cap"] is not None and recorded[2]["excess"] == 900_000_000 - recorded[2]["cap"]

    assert await gateway.charge(await keys("t:10000007"), body, idem) == (status, error)
    assert len(await _refusals_since(db, since)) == 3, "a replay records nothing more"
