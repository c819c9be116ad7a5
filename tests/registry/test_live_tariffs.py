"""A running gateway prices only from approvals whose signature verifies, whatever is written into the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from gateway.core.jalali import day_start_utc, parse_jalali_date
from gateway.core.tariffs import SIGNATURE_KEY
from gateway.registry.tariff_approvals import sign_approval
from receipts.canonical import b64url_decode, canonical_bytes
from receipts.signing import VerifyingKeyring
from tests.stack import charge_body

REFERENCE = "CRA-COM-1402-07"  # the 1403 sample approval, in force now


async def _cap_1101(gateway, key) -> int:
    status, quote = await gateway.request("GET", "/v1/tariffs/quote?service_code=1101", key=key)
    assert status == 200
    return quote["office_fee_cap"]


async def _store(db, document: dict, signature: dict | None) -> None:
    await db.execute(
        "UPDATE tariff_approvals SET document = $2, signature = $3, loaded_at = now() WHERE reference = $1",
        REFERENCE,
        document,
        signature,
    )


async def _settled(gateway, seconds: float = 2.0) -> None:
    """Long enough for several refresh rounds (every 0.5 s in the tests)."""
    await asyncio.sleep(seconds)


async def test_an_unverified_approval_written_into_the_database_is_never_priced_from(gateway, db, keys, sample_key):
    key = await keys("t:10000001")
    row = await db.fetchrow("SELECT document, signature FROM tariff_approvals WHERE reference = $1", REFERENCE)
    original, signature = row["document"], row["signature"]
    cap = await _cap_1101(gateway, key)
    raised = {**original, "services": {**original["services"], "1101": {**original["services"]["1101"]}}}
    raised["services"]["1101"]["office_fee_cap"] = cap * 3
    try:
        for forged_signature in (signature, None):  # the old signature over new content, then none at all
            await _store(db, raised, forged_signature)
            await _settled(gateway)
            assert await _cap_1101(gateway, key) == cap
            _, body = await gateway.request("GET", "/v1/tariffs")
            [table] = body["data"]
            assert table["services"]["1101"]["office_fee_cap"] == cap
            assert table["signed_approval"]["document"] == original

        # The same change, signed by the approving body, is taken: the check above is what held it back.
        await _store(db, raised, sign_approval({**raised, SIGNATURE_KEY: None}, sample_key, "raised"))
        await _settled(gateway)
        assert await _cap_1101(gateway, key) == cap * 3
    finally:
        await _store(db, original, signature)
        await _settled(gateway)
    assert await _cap_1101(gateway, key) == cap


async def test_tariffs_publish_each_approval_with_its_signature_and_the_approver_keys(gateway):
    status, keys = await gateway.request("GET", "/v1/tariffs/keys")
    assert status == 200
    assert [k["key_id"] for k in keys["data"]] == ["SAMPLE-demo-approver"]
    status, body = await gateway.request("GET", "/v1/tariffs?at=2023-06-01T00:00:00Z")
    [table] = body["data"]
    assert table["reference"] == "CRA-COM-1401-11"
    assert set(table["signed_approval"]) == {"document", "algorithm", "key_id", "signature"}


async def test_a_receipts_tariff_reference_names_an_approval_anyone_can_verify(gateway, keys):
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(amount=500_000))
    assert status == 201
    receipt = charge["receipt"]["receipt"]
    _, tariffs = await gateway.request("GET", f"/v1/tariffs?at={receipt['issued_at']}")
    [table] = [t for t in tariffs["data"] if t["reference"] == receipt["tariff_reference"]]
    signed = table["signed_approval"]
    _, approver_keys = await gateway.request("GET", "/v1/tariffs/keys")
    result = VerifyingKeyring.from_public_keys(approver_keys["data"]).check(
        signed["key_id"],
        canonical_bytes(signed["document"]),
        b64url_decode(signed["signature"]),
        day_start_utc(parse_jalali_date(signed["document"]["approval"]["approved_on"])),
        timedelta(days=1),
    )
    assert result.ok, result.detail
