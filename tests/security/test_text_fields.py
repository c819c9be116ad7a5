"""Text PostgreSQL refuses and characters no name should hold, in a charge request: 400 naming the field, and
nothing stored."""

from __future__ import annotations

import pytest

from tests.stack import charge_body


async def _counts(db) -> tuple:
    return tuple(
        await db.fetchrow(
            "SELECT (SELECT count(*) FROM charges), (SELECT count(*) FROM refusals), "
            "(SELECT count(*) FROM idempotency_keys)"
        )
    )


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"payment_method": "card\x00"}, "payment_method"),
        ({"operator_id": "op-\x0011"}, "operator_id"),
        ({"recipient": {"name": "علی\x00", "national_code": "0012345679", "mobile": "09121234567"}}, "recipient.name"),
        (
            {"recipient": {"name": "علی\x1b[1m", "national_code": "0012345679", "mobile": "09121234567"}},
            "recipient.name",
        ),
        ({"extras": [{"code": "scan\u0007page", "quantity": 1}]}, "extras.0.code"),
        ({"operator_id": "op-11\ue000"}, "operator_id"),
    ],
)
async def test_nul_and_control_characters_are_refused_naming_the_field(gateway, keys, db, overrides, param):
    before = await _counts(db)
    status, error = await gateway.charge(await keys("t:10000001"), charge_body(**overrides))
    assert (status, error["error"]["code"], error["error"]["param"]) == (400, "parameter_invalid", param)
    assert await _counts(db) == before


async def test_a_nul_as_a_key_of_the_body_is_refused(gateway, keys, db):
    body = charge_body()
    body["x\x00"] = 1
    status, error = await gateway.charge(await keys("t:10000001"), body)
    assert status == 400 and error["error"]["code"] == "parameter_invalid"


async def test_zwnj_in_a_persian_name_is_kept(gateway, keys):
    recipient = {"name": "علی\u200cرضا یزدانی\u200cفر", "national_code": "0012345679", "mobile": "09121234567"}
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(recipient=recipient))
    assert status == 201, charge
