"""Each service policy against each simulator answer and fault, through the whole path: `required` refuses a
mismatch (422) or a missing answer (503) before the card is pushed, and the regulator sees the refusal; `advisory`
charges and signs the verdict into the receipt; `off` asks nobody. Only the verdicts, track ids and the time are
stored with the charge."""

from __future__ import annotations

import dataclasses
import uuid

import orjson
import pytest

from gateway.charging import terminal_lock
from gateway.core.jalali import format_utc
from tests.identity.conftest import ADAPTER_TIMEOUT_S, TERMINAL
from tests.identity.support import BIRTH_DATE, FIRST_NAME, body_for, fresh_subject, known_to_both
from tests.oversight.support import detect, utcnow, violations_of


async def _matched(registry, shahkar, subject):
    await known_to_both(registry, shahkar, subject)
    return subject


async def _another_name(registry, shahkar, subject):
    await known_to_both(registry, shahkar, subject)
    return dataclasses.replace(subject, name="محمد رضایی")


async def _not_their_mobile(registry, shahkar, subject):
    await registry.add_person(subject.recipient.identifier)
    return subject


def _registry_fault(**fault):
    async def arm(registry, shahkar, subject):
        await known_to_both(registry, shahkar, subject)
        await registry.arm(**fault, national_code=subject.recipient.identifier)
        return subject

    return arm


def _shahkar_fault(**fault):
    async def arm(registry, shahkar, subject):
        await known_to_both(registry, shahkar, subject)
        await shahkar.arm(**fault, mobile=subject.mobile)
        return subject

    return arm


# (answer, how to script it, the verdict it gives)
ANSWERS = [
    ("matched", _matched, "matched"),
    ("another_name", _another_name, "mismatched"),
    ("not_their_mobile", _not_their_mobile, "mismatched"),
    ("slow", _registry_fault(kind="slow_answer", hold_s=ADAPTER_TIMEOUT_S * 3), "unavailable"),
    ("timeout", _shahkar_fault(kind="timeout", hold_s=ADAPTER_TIMEOUT_S * 3), "unavailable"),
    ("5xx", _registry_fault(kind="http_5xx", status=502), "unavailable"),
    ("malformed", _shahkar_fault(kind="malformed"), "unavailable"),
    ("429", _registry_fault(kind="throttle", retry_after=1), "unavailable"),
]


async def _psp_entries(sims) -> int:
    return len(await sims["psp-mellat"].ledger())


@pytest.mark.parametrize(("answer", "script", "verdict"), ANSWERS, ids=[a[0] for a in ANSWERS])
async def test_required(answer, script, verdict, gateway, keys, db, sims, caps, registry, shahkar):
    subject = await script(registry, shahkar, fresh_subject())
    before = await _psp_entries(sims)
    status, reply = await gateway.charge(await keys(f"t:{TERMINAL}"), body_for(subject, "2103", caps["2103"]))

    if verdict == "matched":
        assert status == 201, reply
        assert reply["identity"]["verdict"] == "matched"
        assert _authentication(reply["receipt"]) == "تأیید با استعلام ثبت احوال و شاهکار"
        return
    expected = {"mismatched": (422, "identity_mismatch"), "unavailable": (503, "identity_unavailable")}[verdict]
    assert (status, reply["error"]["code"]) == expected, reply
    assert reply["error"]["details"]["identity"]["verdict"] == verdict
    assert await _psp_entries(sims) == before, "nothing reaches the PSP"
    refusal = await db.fetchrow(
        "SELECT reason, details, recipient_kind FROM refusals WHERE recipient_national_code = $1",
        subject.recipient.identifier,
    )
    assert (refusal["reason"], refusal["recipient_kind"]) == (expected[1], "individual")
    assert refusal["details"]["identity"]["verdict"] == verdict
    assert (
        await db.fetchval(
            "SELECT count(*) FROM charges WHERE recipient_national_code = $1", subject.recipient.identifier
        )
        == 0
    )


@pytest.mark.parametrize(("answer", "script", "verdict"), ANSWERS, ids=[a[0] for a in ANSWERS])
async def test_advisory(answer, script, verdict, gateway, keys, db, caps, registry, shahkar):
    subject = await script(registry, shahkar, fresh_subject())
    status, reply = await gateway.charge(await keys(f"t:{TERMINAL}"), body_for(subject, "3103", caps["3103"]))

    assert status == 201, reply
    identity = reply["identity"]
    assert (identity["policy"], identity["verdict"]) == ("advisory", verdict)
    authentication = _authentication(reply["receipt"])
    if verdict == "matched":
        assert authentication == "تأیید با استعلام ثبت احوال و شاهکار"
    else:
        assert {"مغایرت": "mismatched", "بی‌پاسخ": "unavailable"}[_worst(authentication)] == verdict
    stored = await db.fetchval("SELECT identity_check FROM charges WHERE id = $1", uuid.UUID(reply["id"]))
    assert stored == identity
    _holds_only_verdicts_track_ids_and_time(stored, subject)


async def test_off_asks_nobody_and_signs_no_authentication(gateway, keys, caps, registry, shahkar):
    subject = fresh_subject(birth_date=None)
    status, reply = await gateway.charge(await keys(f"t:{TERMINAL}"), body_for(subject, "1101", caps["1101"]))
    assert status == 201, reply
    assert reply["identity"] is None and "authentication" not in reply["receipt"]
    assert (await registry.calls(), await shahkar.calls()) == (0, 0)


async def test_a_policy_that_asks_the_registry_needs_the_birth_date(gateway, keys, db, caps, registry, shahkar):
    subject = fresh_subject(birth_date=None)
    before = await db.fetchval("SELECT count(*) FROM refusals")
    status, reply = await gateway.charge(await keys(f"t:{TERMINAL}"), body_for(subject, "2103", caps["2103"]))
    assert (status, reply["error"]["code"], reply["error"]["param"]) == (
        400,
        "parameter_invalid",
        "recipient.birth_date",
    )
    assert await db.fetchval("SELECT count(*) FROM refusals") == before
    assert (await registry.calls(), await shahkar.calls()) == (0, 0)


async def test_a_legal_person_under_a_required_policy_is_asked_of_shahkar(gateway, keys, caps, registry, shahkar):
    national_id = "10380284790"
    subject = fresh_subject(birth_date=None)
    await shahkar.add_line(national_id, subject.mobile)
    recipient = {"kind": "legal_person", "name": "شرکت نمونه", "national_id": national_id, "mobile": subject.mobile}
    body = body_for(subject, "2103", caps["2103"]) | {"recipient": recipient}
    status, reply = await gateway.charge(await keys(f"t:{TERMINAL}"), body)
    assert status == 201, reply
    assert _authentication(reply["receipt"]) == "تأیید با استعلام شاهکار"
    assert await registry.calls() == 0


async def test_a_mismatch_is_a_finding_for_the_regulator(gateway, keys, db, caps, registry, shahkar):
    since = utcnow()
    subject = await _another_name(registry, shahkar, fresh_subject())
    status, _ = await gateway.charge(await keys(f"t:{TERMINAL}"), body_for(subject, "2103", caps["2103"]))
    assert status == 422
    refusal_id = await db.fetchval(
        "SELECT id FROM refusals WHERE recipient_national_code = $1", subject.recipient.identifier
    )
    found = await detect(gateway, db, since)
    assert found.get("identity_mismatch") == 1
    violation = (await violations_of(db, f"refusal:{refusal_id}"))[f"refusal:{refusal_id}"]
    assert (violation["type"], violation["office_id"], violation["service_code"]) == (
        "identity_mismatch",
        "11110001",
        "2103",
    )
    status, listed = await gateway.request(
        "GET", f"/v1/regulator/violations?type=identity_mismatch&from={format_utc(since)}", key=await keys("regulator")
    )
    assert status == 200 and any(v["evidence"]["refusal_id"] == refusal_id for v in listed["data"]), listed


def _authentication(receipt: dict) -> str:
    field = receipt["receipt"]["authentication"] if "receipt" in receipt else receipt["authentication"]
    assert field["label"] == "احراز اصالت خدمت‌گیرنده"
    return field["value"]


def _worst(authentication: str) -> str:
    return "مغایرت" if "مغایرت" in authentication else "بی‌پاسخ"


def _holds_only_verdicts_track_ids_and_time(stored: dict, subject) -> None:
    assert set(stored) == {"policy", "verdict", "results", "checked_at"}
    for result in stored["results"]:
        assert set(result) == {"service", "verdict", "track_id", "reason"}
    text = orjson.dumps(stored).decode()
    for personal in (BIRTH_DATE, FIRST_NAME, subject.recipient.identifier, subject.mobile):
        assert personal not in text


async def test_redis_round_trips_of_a_charge_that_asks_both_services(
    gateway, keys, caps, registry, shahkar, redis_round_trips, monkeypatch
):
    monkeypatch.setattr(terminal_lock, "RELEASE_DELAY_S", 60.0)  # each release goes with the next lock script
    key = await keys(f"t:{TERMINAL}")
    for _ in range(2):  # the first charges of a process load its scripts and open its connections
        subject = await _matched(registry, shahkar, fresh_subject())
        assert (await gateway.charge(key, body_for(subject, "2103", caps["2103"])))[0] == 201
    subject = await _matched(registry, shahkar, fresh_subject())

    redis_round_trips.start()
    status, reply = await gateway.charge(key, body_for(subject, "2103", caps["2103"]))
    trips = redis_round_trips.stop()

    assert status == 201 and reply["status"] == "completed", reply
    # The rate limits' counts (spent before anyone is asked), both cached answers, both fresh answers, the
    # terminal taken (with the charge before it letting its terminal go, in the same write).
    assert trips == [("EVALSHA",), ("MGET",), ("SET", "SET"), ("EVAL", "EVALSHA")]
