"""Void abuse, built through the real path: an office that voids most of its charges and charges a voided recipient
again is found with its evidence; an office with an ordinary void is not."""

from __future__ import annotations

import uuid

from gateway.oversight.void_patterns import rate_stands_out
from tests.oversight.support import detect, recipient, utcnow
from tests.stack import charge_body

ABUSIVE = ("10000006", "op-51", "51110005")
CLEAN = ("10000004", "op-31", "31110003")


async def _charge(gateway, key: str, terminal: tuple[str, str, str], person: dict) -> dict:
    terminal_id, operator_id, _ = terminal
    status, charge = await gateway.charge(
        key, charge_body(terminal_id=terminal_id, operator_id=operator_id, recipient=person, amount=500_000)
    )
    assert status == 201, charge
    return charge


async def _void(gateway, key: str, charge: dict) -> dict:
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/void",
        key=key,
        json={"reason": "agency_system_down", "reason_text": "سامانه دستگاه قطع بود"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, void
    return void


async def test_an_office_that_voids_and_charges_again_is_found_with_evidence(gateway, keys, db):
    since = utcnow()
    key = await keys(f"t:{ABUSIVE[0]}")
    people = [recipient() for _ in range(5)]
    charges = [await _charge(gateway, key, ABUSIVE, person) for person in people]
    voids = [await _void(gateway, key, charge) for charge in charges[:4]]
    recharge = await _charge(gateway, key, ABUSIVE, people[0])  # the first recipient, charged again after its void

    found = await detect(gateway, db, since)

    assert found == {"void_rate": 1, "void_then_recharge": 1}, found  # the voided charge is no split charging
    rows = await db.fetch("SELECT * FROM violations WHERE office_id = $1 AND occurred_at >= $2", ABUSIVE[2], since)
    by_type = {row["type"]: row for row in rows}
    recharged = by_type["void_then_recharge"]
    assert recharged["evidence_key"] == f"recharge:{voids[0]['id']}"
    evidence = recharged["evidence"]
    assert (evidence["voided_tracking_code"], evidence["recharge_tracking_code"]) == (
        charges[0]["tracking_code"],
        recharge["tracking_code"],
    )
    assert evidence["cancellation_tracking_code"] == voids[0]["cancellation_tracking_code"]
    assert evidence["recipient_national_code"].endswith(people[0]["national_code"][6:])
    assert people[0]["national_code"] not in str(evidence)
    assert recharged["amount"] == recharge["amount"] and recharged["operator_id"] == ABUSIVE[1]
    rate = by_type["void_rate"]["evidence"]
    assert rate["voids"] == 4 and rate["charges_completed"] >= 6
    assert set(rate["cancellation_tracking_codes"]) == {v["cancellation_tracking_code"] for v in voids}

    # Detection over the same range again records nothing twice.
    assert await detect(gateway, db, since) == {}


async def test_an_office_with_an_ordinary_void_has_no_void_finding(gateway, keys, db):
    since = utcnow()
    key = await keys(f"t:{CLEAN[0]}")
    charges = [await _charge(gateway, key, CLEAN, recipient()) for _ in range(4)]
    await _void(gateway, key, charges[1])

    await detect(gateway, db, since)

    assert not await db.fetch(
        "SELECT * FROM violations WHERE office_id = $1 AND occurred_at >= $2 AND type LIKE 'void%'", CLEAN[2], since
    )


def test_the_rate_rule():
    assert rate_stands_out(3, 15) and not rate_stands_out(3, 16)
    assert not rate_stands_out(2, 2)  # two voids never stand out, whatever the day's charges
    assert rate_stands_out(3, 0)


async def test_every_void_is_visible_to_the_regulator(gateway, keys, db):
    since = utcnow()
    key = await keys(f"t:{ABUSIVE[0]}")
    charges = [await _charge(gateway, key, ABUSIVE, recipient()) for _ in range(3)]
    voids = [await _void(gateway, key, charge) for charge in charges]
    regulator = await keys("regulator")
    path = f"/v1/regulator/voids?office_id={ABUSIVE[2]}&from={since.isoformat().replace('+00:00', 'Z')}&limit=2"

    status, first = await gateway.request("GET", path, key=regulator)
    assert status == 200 and first["has_more"], first
    status, second = await gateway.request("GET", f"{path}&cursor={first['next_cursor']}", key=regulator)
    assert status == 200 and not second["has_more"]
    listed = first["data"] + second["data"]
    assert [row["id"] for row in listed] == [void["id"] for void in voids]
    assert {(row["status"], row["reason"], row["office_id"]) for row in listed} == {
        ("reversed", "agency_system_down", ABUSIVE[2])
    }
    assert [row["tracking_code"] for row in listed] == [charge["tracking_code"] for charge in charges]
    status, text = await gateway.request("GET", f"{path}&format=csv", key=regulator)
    assert status == 200 and all(void["cancellation_tracking_code"] in text.decode() for void in voids)
    status, _ = await gateway.request("GET", path, key=key)
    assert status == 403
