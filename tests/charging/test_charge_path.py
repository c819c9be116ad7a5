"""POST /v1/charges against real PostgreSQL, Redis and the PSP simulators."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from uuid_utils.compat import uuid7

from gateway.charging.terminal_lock import lock_token
from receipts.keys_files import create_key, load_keyring
from receipts.signing import VerifyingKeyring
from simulators.psp.cards import TEST_CARDS
from tests.stack import charge_body

REQUIRED_LABELS = [
    "نام خدمت",
    "نام خدمت‌گیرنده",
    "شماره رهگیری",
    "تاریخ و زمان ارایه خدمت",
    "مبلغ اخذ شده",
    "نام دارنده پروانه",
    "شماره پروانه",
    "متصدی ارایه‌کننده خدمت",
    "نشانی دفتر",
]


async def test_completed_charge_carries_a_verifiable_receipt_with_every_required_field(gateway, keys, sims, db):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=650_000))

    assert status == 201, charge
    assert charge["status"] == "completed"
    assert charge["breakdown"]["government_share"] + charge["breakdown"]["office_fee"] == 650_000
    assert charge["rrn"] and charge["stan"] and charge["masked_pan"].count("*") >= 6
    signed = charge["receipt"]
    _, published = await gateway.request("GET", "/v1/keys")
    assert VerifyingKeyring.from_public_keys(published["data"]).verify(signed).ok
    receipt = signed["receipt"]
    assert [f["label"] for f in receipt["fields"]] == REQUIRED_LABELS
    assert all(str(f["value"]).strip() for f in receipt["fields"])
    assert receipt["payment"] == {
        "psp_id": "psp-mellat",
        "terminal_id": "10000001",
        "rrn": charge["rrn"],
        "stan": charge["stan"],
        "masked_pan": charge["masked_pan"],
    }
    assert receipt["tariff_reference"] == charge["tariff_reference"] == "CRA-COM-1402-07"
    assert receipt["tracking_code"] == charge["tracking_code"]

    ledger = await sims["psp-mellat"].entry(charge["id"])
    assert ledger["state"] in ("verified", "settled") and ledger["amount"] == 650_000
    outbox = await db.fetch(
        "SELECT channel, recipient FROM outbox WHERE charge_id = $1 ORDER BY channel", uuid.UUID(charge["id"])
    )
    assert [(r["channel"], r["recipient"]) for r in outbox] == [("poosheh", "iran0012345679"), ("sms", "09121234567")]
    status, fetched = await gateway.request(
        "GET", f"/v1/receipts/{charge['tracking_code']}", key=await keys("t:10000001")
    )
    assert status == 200 and fetched == {**signed, "qr_url": charge["qr_url"]}


async def _refusals(db, reason: str) -> list:
    return await db.fetch("SELECT * FROM refusals WHERE reason = $1 ORDER BY id", reason)


async def test_excess_fee_is_refused_recorded_and_never_reaches_the_psp(gateway, keys, sims, db):
    key = await keys("t:10000001")
    _, quote = await gateway.request("GET", "/v1/tariffs/quote?service_code=1101", key=key)
    before = len(await sims["psp-mellat"].ledger())

    status, error = await gateway.charge(key, charge_body(amount=quote["cap"] + 50_000, operator_id="op-12"))

    assert status == 422
    assert error["error"]["type"] == "tariff_error" and error["error"]["code"] == "excess_fee"
    assert error["error"]["details"]["cap"] == quote["cap"]
    assert error["error"]["details"]["requested"] == quote["cap"] + 50_000
    assert error["error"]["details"]["excess"] == 50_000
    recorded = (await _refusals(db, "excess_fee"))[-1]
    assert (recorded["office_id"], recorded["terminal_id"], recorded["operator_id"], recorded["service_code"]) == (
        "11110001",
        "10000001",
        "op-12",
        "1101",
    )
    assert (recorded["requested"], recorded["cap"], recorded["excess"]) == (quote["cap"] + 50_000, quote["cap"], 50_000)
    assert recorded["created_at"] is not None
    assert len(await sims["psp-mellat"].ledger()) == before


async def test_a_charge_of_exactly_the_quoted_cap_is_accepted(gateway, keys):
    key = await keys("t:10000001")
    status, quote = await gateway.request("GET", "/v1/tariffs/quote?service_code=2101&quantity=2", key=key)
    assert status == 200
    assert quote["cap"] == quote["government_share"] + quote["office_fee_cap"]

    status, charge = await gateway.charge(key, charge_body(service_code="2101", quantity=2, amount=quote["cap"]))
    assert status == 201 and charge["amount"] == quote["cap"]
    status, _ = await gateway.charge(key, charge_body(service_code="2101", quantity=2, amount=quote["cap"] + 1))
    assert status == 422


async def test_cash_is_refused_and_recorded(gateway, keys, db):
    status, error = await gateway.charge(await keys("t:10000001"), charge_body(payment_method="cash"))
    assert status == 422 and error["error"]["code"] == "cash_forbidden"
    assert (await _refusals(db, "cash_forbidden"))[-1]["payment_method"] == "cash"


async def test_offices_without_an_active_licence_are_refused(gateway, keys, db):
    expired = await gateway.charge(await keys("t:10000005"), charge_body(terminal_id="10000005", operator_id="op-41"))
    suspended = await gateway.charge(await keys("t:10000007"), charge_body(terminal_id="10000007", operator_id="op-61"))
    for status, error in (expired, suspended):
        assert status == 403 and error["error"]["code"] == "office_license_inactive"
    offices = {r["office_id"] for r in await _refusals(db, "office_license_inactive")}
    assert {"41110004", "61110006"} <= offices


async def test_a_terminal_of_an_unlicensed_psp_is_refused(gateway, keys, db, sims):
    status, error = await gateway.charge(
        await keys("t:10000008"), charge_body(terminal_id="10000008", operator_id="op-31")
    )
    assert status == 403 and error["error"]["code"] == "psp_unlicensed"
    assert (await _refusals(db, "psp_unlicensed"))[-1]["terminal_id"] == "10000008"
    assert await sims["psp-fanava"].ledger() == []


async def test_a_charge_dated_under_the_previous_approval_is_priced_by_it(gateway, keys, tmp_path):
    key = await keys("t:10000003")  # office 21110002: no other test audits its chain
    moment = datetime(2023, 9, 1, 8, 0, tzinfo=UTC)  # 1402/06/10
    status, tables = await gateway.request("GET", "/v1/tariffs?at=2023-09-01T08:00:00Z")
    assert status == 200 and [t["reference"] for t in tables["data"]] == ["CRA-COM-1401-11"]
    charges = gateway.services.charges
    # The whole charge happens at that moment, its receipt too: it is signed by a key valid then.
    create_key(tmp_path, valid_from=datetime(2023, 1, 1, tzinfo=UTC))
    real_clock, charges.clock = charges.clock, lambda: moment
    real_keyring, charges.issuer.keyring = charges.issuer.keyring, load_keyring(tmp_path)
    try:
        status, error = await gateway.charge(
            key, charge_body(terminal_id="10000003", operator_id="op-21", amount=600_000)
        )
        assert status == 422 and error["error"]["details"]["cap"] == 550_000
        assert error["error"]["details"]["tariff_reference"] == "CRA-COM-1401-11"
        status, charge = await gateway.charge(
            key, charge_body(terminal_id="10000003", operator_id="op-21", amount=550_000)
        )
        assert status == 201 and charge["tariff_reference"] == "CRA-COM-1401-11"
        assert charge["receipt"]["receipt"]["issued_at"] == "2023-09-01T08:00:00Z"
    finally:
        charges.clock = real_clock
        charges.issuer.keyring = real_keyring


async def test_replaying_an_idempotency_key_returns_the_first_answer(gateway, keys, sims):
    key = await keys("t:10000001")
    idem = uuid.uuid4().hex
    first = await gateway.charge(key, charge_body(amount=600_000), idem)
    again = await gateway.charge(key, charge_body(amount=600_000), idem)
    assert first[0] == again[0] == 201
    assert again[1] == first[1]
    assert len(await sims["psp-mellat"].ledger(first[1]["id"])) == 1

    status, error = await gateway.charge(key, charge_body(amount=500_000), idem)
    assert status == 409 and error["error"]["type"] == "idempotency_error"


async def test_a_refusal_replays_without_being_recorded_twice(gateway, keys, db):
    key = await keys("t:10000001")
    idem = uuid.uuid4().hex
    before = len(await _refusals(db, "cash_forbidden"))
    first = await gateway.charge(key, charge_body(payment_method="cash"), idem)
    again = await gateway.charge(key, charge_body(payment_method="cash"), idem)
    assert first == again and first[0] == 422
    assert len(await _refusals(db, "cash_forbidden")) == before + 1


async def test_concurrent_duplicates_make_exactly_one_psp_call(gateway, keys, sims):
    key = await keys("t:10000002")
    await sims["psp-saman"].pin_delay("10000002", 300)
    idem = uuid.uuid4().hex
    try:
        answers = await asyncio.gather(
            *(gateway.charge(key, charge_body(terminal_id="10000002"), idem) for _ in range(6))
        )
    finally:
        await sims["psp-saman"].pin_delay("10000002", 0)
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert len(await sims["psp-saman"].ledger(answers[0][1]["id"])) == 1


async def test_a_duplicate_that_finds_its_own_first_attempt_on_the_terminal_waits_instead_of_saying_busy(
    gateway, keys, sims
):
    """A first attempt that has taken the terminal but not yet stored its key: its duplicate waits rather than
    answering 409 terminal_busy. This first attempt then lets the terminal go without writing its charge (it died),
    so the waiting duplicate charges in its place, once, and a later retry replays that answer."""
    key = await keys("t:10000002")
    idem = uuid.uuid4().hex
    locks = gateway.services.charges.terminal_locks
    first_attempt = await locks.acquire("11110001", "10000002", lock_token(uuid7(), idem))
    assert first_attempt.taken
    duplicate = asyncio.create_task(gateway.charge(key, charge_body(terminal_id="10000002"), idem))
    await asyncio.sleep(0.3)
    assert not duplicate.done()
    locks.release("11110001", "10000002", first_attempt.token)
    status, charge = await asyncio.wait_for(duplicate, 5)
    assert status == 201 and charge["status"] == "completed"
    assert await gateway.charge(key, charge_body(terminal_id="10000002"), idem) == (status, charge)
    assert len(await sims["psp-saman"].ledger(charge["id"])) == 1


async def test_charge_ids_are_time_ordered_so_new_charges_append_to_their_indexes(gateway, keys):
    key = await keys("t:10000001")
    ids = [uuid.UUID((await gateway.charge(key, charge_body()))[1]["id"]) for _ in range(3)]
    assert [charge_id.version for charge_id in ids] == [7, 7, 7]
    assert ids == sorted(ids)


async def test_declines_and_cardholder_cancel_give_402_with_no_receipt(gateway, keys, sims, db):
    key = await keys("t:10000001")
    await sims["psp-mellat"].script("10000001", "decline:51", "decline:55", "cancel")
    for expected_code, expected_status in (("51", "declined"), ("55", "declined"), ("99", "cancelled")):
        status, error = await gateway.charge(key, charge_body())
        assert status == 402, error
        assert error["error"]["type"] == "card_error"
        assert error["error"]["details"]["decline_code"] == expected_code
        charge = error["error"]["details"]["charge"]
        assert charge["status"] == expected_status and charge["receipt"] is None
        charge_id = uuid.UUID(charge["id"])
        assert await db.fetchval("SELECT count(*) FROM receipts WHERE charge_id = $1", charge_id) == 0
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE charge_id = $1", charge_id) == 0


async def test_a_terminal_key_cannot_charge_on_another_terminal_or_read_another_office(gateway, keys):
    status, error = await gateway.charge(await keys("t:10000003"), charge_body(terminal_id="10000001"))
    assert status == 403 and error["error"]["code"] == "terminal_mismatch"
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body())
    assert status == 201
    status, _ = await gateway.request("GET", f"/v1/charges/{charge['id']}", key=await keys("t:10000003"))
    assert status == 404
    status, _ = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}", key=await keys("t:10000003"))
    assert status == 404
    status, seen = await gateway.request("GET", f"/v1/charges/{charge['id']}", key=await keys("regulator"))
    assert status == 200 and seen["id"] == charge["id"]


async def test_no_full_card_number_is_stored_anywhere(gateway, keys, db):
    await gateway.charge(await keys("t:10000001"), charge_body())
    full_pans = [card.pan for card in TEST_CARDS]
    tables = [r["tablename"] for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    for table in tables:
        dump = await db.fetchval(f"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t")
        for pan in full_pans:
            assert pan not in dump, f"a full card number is stored in {table}"


async def test_a_busy_terminal_refuses_a_second_card_without_pushing_it(gateway, keys, sims, db):
    key = await keys("t:10000004")
    body = charge_body(terminal_id="10000004", operator_id="op-31")
    before = await db.fetchval("SELECT count(*) FROM charges WHERE terminal_id = '10000004'")
    await sims["psp-mellat"].pin_delay("10000004", 600)
    try:
        first = asyncio.create_task(gateway.charge(key, body))
        await asyncio.sleep(0.2)
        status, error = await gateway.charge(key, body)
        assert status == 409 and error["error"]["code"] == "terminal_busy"
        assert (await first)[0] == 201
    finally:
        await sims["psp-mellat"].pin_delay("10000004", 0)
    assert await db.fetchval("SELECT count(*) FROM charges WHERE terminal_id = '10000004'") == before + 1
    assert (await gateway.charge(key, body))[0] == 201


async def test_persian_digits_and_arabic_letters_are_normalised_at_the_edge(gateway, keys, db):
    body = charge_body(
        terminal_id="۱۰۰۰۰۰۰۱",
        recipient={"name": "علي كريمي", "national_code": "۰۰۱۲۳۴۵۶۷۹", "mobile": "+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷"},
    )
    status, charge = await gateway.charge(await keys("t:10000001"), body)
    assert status == 201
    row = await db.fetchrow(
        "SELECT recipient_name, recipient_national_code, recipient_mobile FROM charges WHERE id = $1",
        uuid.UUID(charge["id"]),
    )
    assert tuple(row) == ("علی کریمی", "0012345679", "09121234567")


async def test_bad_input_gets_a_clear_error_and_changes_nothing(gateway, keys, db):
    key = await keys("t:10000001")
    counts = (
        "SELECT (SELECT count(*) FROM charges) + (SELECT count(*) FROM refusals) + "
        "(SELECT count(*) FROM idempotency_keys)"
    )
    before = await db.fetchval(counts)
    cases = [
        (charge_body(amount=12.5), "amount"),
        (charge_body(amount="700000"), "amount"),
        (charge_body(amount=-5), "amount"),
        (
            charge_body(recipient={"name": "x", "national_code": "0012345678", "mobile": "09121234567"}),
            "recipient.national_code",
        ),
        (
            charge_body(recipient={"name": "x", "national_code": "0012345679", "mobile": "02188776655"}),
            "recipient.mobile",
        ),
        ({**charge_body(), "surprise": 1}, "surprise"),
    ]
    for body, param in cases:
        status, error = await gateway.charge(key, body)
        assert status == 400, (body, error)
        assert error["error"]["param"] == param
    status, error = await gateway.request(
        "POST",
        "/v1/charges",
        key=key,
        data=b"{not json",
        headers={"Idempotency-Key": "x", "Content-Type": "application/json"},
    )
    assert status == 400 and error["error"]["code"] == "invalid_json"
    status, error = await gateway.request("POST", "/v1/charges", key=key, json=charge_body())
    assert status == 400 and error["error"]["param"] == "Idempotency-Key"
    assert await db.fetchval(counts) == before
