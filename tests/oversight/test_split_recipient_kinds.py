"""Split-charging detection knows a recipient by the identifier of its kind: a legal person, a foreign national
or a passport holder charged in parts for one service is found as a person is, and each is told apart from the
others."""

from __future__ import annotations

import random

import pytest

from gateway.core.identifiers import complete_legal_person_id
from tests.oversight.support import detect, utcnow, violations_of
from tests.stack import charge_body


def _legal_person() -> tuple[dict, str]:
    national_id = complete_legal_person_id(f"{random.randrange(10**9, 10**10 - 1)}")
    return {"kind": "legal_person", "national_id": national_id}, national_id


def _foreign_national() -> tuple[dict, str]:
    foreign_id = f"{random.randrange(10**11, 10**12 - 1)}"
    return {"kind": "foreign_national", "foreign_national_id": foreign_id}, foreign_id


def _passport_holder() -> tuple[dict, str]:
    passport = f"P{random.randrange(10**7, 10**8)}"
    return {"kind": "foreign_national", "passport_number": passport, "nationality": "IQ"}, f"IQ:{passport}"


@pytest.mark.parametrize("make_recipient", [_legal_person, _foreign_national, _passport_holder])
async def test_a_recipient_of_any_kind_charged_in_parts_is_split_charging(make_recipient, gateway, keys, db):
    since = utcnow()
    vanak = await keys("t:10000001")
    status, quote = await gateway.request("GET", "/v1/tariffs/quote?service_code=1101", key=vanak)
    assert status == 200, quote
    identity, identifier = make_recipient()
    other_identity, _ = make_recipient()
    recipient = {"name": "شرکت نمونه", "mobile": "09121234567", **identity}
    answers = [
        await gateway.charge(vanak, charge_body(recipient=recipient, amount=quote["cap"])),
        await gateway.charge(vanak, charge_body(recipient=recipient, amount=400_000)),
        await gateway.charge(vanak, charge_body(recipient={**recipient, **other_identity}, amount=400_000)),
    ]
    assert [status for status, _ in answers] == [201] * 3, answers
    first, second, someone_else = (charge for _, charge in answers)

    assert await detect(gateway, db, since) == {"split_charging": 1}

    recorded = await violations_of(db, *(f"split:{c['id']}" for c in (first, second, someone_else)))
    assert list(recorded) == [f"split:{second['id']}"]
    evidence = recorded[f"split:{second['id']}"]["evidence"]
    assert evidence["charge_ids"] == [first["id"], second["id"]]
    assert evidence["recipient_kind"] == identity["kind"]
    assert evidence["recipient_national_code"] == "*" * (len(identifier) - 4) + identifier[-4:]
