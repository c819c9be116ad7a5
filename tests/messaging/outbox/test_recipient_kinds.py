"""Every kind of recipient gets a completed charge, a signed receipt, the confirmation SMS and, where the kind has an
inbox, the receipt in its Iran Poosheh inbox at the address of its kind (004 art. 3.5)."""

from __future__ import annotations

import random

import pytest

from gateway.core.identifiers import complete_legal_person_id
from tests.messaging.outbox.support import TERMINAL, new_recipient, outbox_rows
from tests.stack import charge_body


def _legal_person() -> tuple[dict, str]:
    national_id = complete_legal_person_id(f"{random.randrange(10**9, 10**10 - 1)}")
    return {"kind": "legal_person", "national_id": national_id}, f"iran{national_id}"


def _foreign_national() -> tuple[dict, str]:
    foreign_id = f"{random.randrange(10**11, 10**12 - 1)}"
    return {"kind": "foreign_national", "foreign_national_id": foreign_id}, f"iran{foreign_id}"


def _passport_holder() -> tuple[dict, None]:
    passport = f"P{random.randrange(10**7, 10**8)}"
    return {"kind": "foreign_national", "passport_number": passport, "nationality": "AFG"}, None


@pytest.mark.parametrize("make_recipient", [_legal_person, _foreign_national, _passport_holder])
async def test_each_kind_is_charged_receipted_texted_and_filed(
    make_recipient, gateway, keys, db, sms_centre, inbox, outbox_settings, workers_for
):
    identity, address = make_recipient()
    mobile = new_recipient().mobile
    body = charge_body(recipient={"name": "شرکت نمونه", "mobile": mobile, **identity})

    status, charge = await gateway.charge(await keys(f"t:{TERMINAL}"), body)
    assert status == 201, charge
    assert charge["status"] == "completed" and charge["tracking_code"]
    await workers_for(outbox_settings).dispatcher.run_until_idle()

    [sms] = await sms_centre.handset(mobile)
    assert charge["tracking_code"] in sms["text"]
    stored = await db.fetchrow(
        "SELECT recipient_kind, recipient_national_code FROM charges WHERE id = $1::uuid", charge["id"]
    )
    assert stored["recipient_kind"] == identity["kind"]
    poosheh = (await outbox_rows(db, [charge], "poosheh")).get(charge["id"])
    if address is None:
        assert poosheh is None
        assert stored["recipient_national_code"] == f"AF:{identity['passport_number']}"
        return
    [filed] = await inbox.inbox(address)
    assert filed["document"] == charge["receipt"]
    assert poosheh["status"] == "delivered"


@pytest.mark.parametrize(
    ("recipient", "param"),
    [
        ({"kind": "legal_person", "national_id": "10380284791"}, "recipient.national_id"),
        ({"kind": "legal_person", "national_code": "0012345679"}, "recipient"),
        ({"kind": "foreign_national", "passport_number": "P1234567"}, "recipient"),
        ({"kind": "foreign_national", "foreign_national_id": "12345678901"}, "recipient.foreign_national_id"),
        ({"kind": "individual", "national_code": "0012345679", "national_id": "10380284790"}, "recipient"),
        ({"kind": "company", "national_id": "10380284790"}, "recipient.kind"),
    ],
)
async def test_a_recipient_not_identified_by_its_kind_is_refused_at_the_edge(recipient, param, gateway, keys, db):
    before = await db.fetchval("SELECT count(*) FROM charges")
    body = charge_body(recipient={"name": "شرکت نمونه", "mobile": "09121234567", **recipient})
    status, answer = await gateway.charge(await keys(f"t:{TERMINAL}"), body)
    assert status == 400, answer
    assert answer["error"]["code"] == "parameter_invalid" and answer["error"]["param"] == param
    assert await db.fetchval("SELECT count(*) FROM charges") == before
