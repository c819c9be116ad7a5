"""Receipts through the API: printed forms, public verification, the chain under concurrent completions."""

from __future__ import annotations

import asyncio
import subprocess

from gateway.core.text import to_persian_digits
from receipts.audit import verify_chain
from receipts.qr import make_qr_payload
from receipts.render_text import columns
from receipts.signing import VerifyingKeyring
from tests.stack import charge_body

PERSONAL = ("علی رضایی", "0012345679", "09121234567")


async def _completed(gateway, keys, terminal="10000001", operator="op-11"):
    status, charge = await gateway.charge(
        await keys(f"t:{terminal}"), charge_body(terminal_id=terminal, operator_id=operator)
    )
    assert status == 201, charge
    return charge


async def test_printed_forms_carry_the_receipt(gateway, keys, tmp_path):
    charge = await _completed(gateway, keys)
    key = await keys("t:10000001")
    for size in ("a5", "80mm"):
        status, pdf = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}.pdf?size={size}", key=key)
        assert status == 200 and pdf.startswith(b"%PDF")
        path = tmp_path / f"r-{size}.pdf"
        path.write_bytes(pdf)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert to_persian_digits(charge["tracking_code"]) in text or charge["tracking_code"] in text
    status, text = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}.txt", key=key)
    lines = text.decode().splitlines()
    assert status == 200 and lines and max(columns(line) for line in lines) == 48
    status, error = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}.pdf?size=a4", key=key)
    assert status == 400 and error["error"]["param"] == "size"


async def test_thermal_text_in_the_windows_1256_code_page(gateway, keys):
    charge = await _completed(gateway, keys)
    path = f"{gateway.url}/v1/receipts/{charge['tracking_code']}.txt"
    headers = {"Authorization": f"Bearer {await keys('t:10000001')}"}
    async with gateway.session.get(path, params={"charset": "Windows-1256"}, headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; charset=windows-1256"
        text = (await response.read()).decode("windows-1256")
    assert "نام خدمت\u200cگيرنده: علي رضايي" in text  # Persian yeh in the code page's form
    assert charge["tracking_code"] in text  # ASCII digits
    async with gateway.session.get(path, params={"charset": "iran-system"}, headers=headers) as response:
        error = await response.json()
    assert response.status == 400 and error["error"]["param"] == "charset"


async def test_public_verification_tells_genuine_chain_and_key_without_personal_data(gateway, keys, db):
    first = await _completed(gateway, keys)
    second = await _completed(gateway, keys)
    status, answer = await gateway.request("GET", f"/v1/receipts/{first['tracking_code']}/verify")
    assert status == 200
    assert answer["genuine"] is True and answer["signature"]["verdict"] == "valid"
    assert answer["key_id"] == first["receipt"]["receipt"]["key_id"]
    assert answer["chain"]["seq"] == first["receipt"]["receipt"]["seq"]
    assert answer["chain"]["links_to_previous"] is True and answer["chain"]["next_links_here"] is True
    _, later = await gateway.request("GET", f"/v1/receipts/{second['tracking_code']}/verify")
    assert later["chain"]["prev_hash"] == answer["chain"]["hash"]
    text = str(answer) + str(later)
    assert not any(item in text for item in PERSONAL)

    mistyped = first["tracking_code"][:-2] + first["tracking_code"][-1] + first["tracking_code"][-2]
    if mistyped != first["tracking_code"]:
        assert (await gateway.request("GET", f"/v1/receipts/{mistyped}/verify"))[0] == 404


async def test_a_scanned_qr_payload_is_checked_and_a_forged_one_caught(gateway, keys):
    charge = await _completed(gateway, keys)
    payload = make_qr_payload(charge["receipt"], gateway.services.keyring)
    path = f"/v1/receipts/{charge['tracking_code']}/verify"
    status, answer = await gateway.request("POST", path, json={"qr_payload": payload})
    assert status == 200 and answer["presented"]["altered"] is False
    assert charge["qr_url"] == f"{gateway.services.settings.public_base_url}/q/{payload}"
    status, answer = await gateway.request("POST", path, json={"qr_payload": charge["qr_url"]})
    assert status == 200 and answer["presented"]["altered"] is False
    forged = payload[:-6] + ("A" if payload[-6] != "A" else "B") + payload[-5:]
    _, answer = await gateway.request("POST", path, json={"qr_payload": forged})
    assert answer["presented"]["altered"] is True
    altered_copy = {
        "receipt": {**charge["receipt"]["receipt"], "seq": 999},
        "signature": charge["receipt"]["signature"],
    }
    _, answer = await gateway.request("POST", path, json={"receipt": altered_copy})
    assert answer["presented"]["altered"] is True


async def test_the_electronic_receipt_carries_its_qr_url_outside_what_is_signed(gateway, keys):
    charge = await _completed(gateway, keys)
    status, body = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}", key=await keys("t:10000001"))
    assert status == 200
    assert body["qr_url"] == charge["qr_url"]
    assert {key: body[key] for key in ("receipt", "signature")} == charge["receipt"]
    path = f"/v1/receipts/{charge['tracking_code']}/verify"
    _, answer = await gateway.request("POST", path, json={"receipt": body})
    assert answer["presented"]["altered"] is False


async def test_a_receipt_altered_in_storage_is_reported_not_genuine(gateway, keys, db):
    charge = await _completed(gateway, keys, terminal="10000003", operator="op-21")
    await db.execute(
        "UPDATE receipts SET signed = jsonb_set(signed, '{receipt,tariff_reference}', '\"forged\"') "
        "WHERE tracking_code = $1",
        charge["tracking_code"],
    )
    _, answer = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}/verify")
    assert answer["genuine"] is False and answer["signature"]["verdict"] == "altered"


async def test_simultaneous_completions_in_one_office_never_fork_the_chain(gateway, keys, db):
    mellat, saman = await keys("t:10000001"), await keys("t:10000002")
    answers = await asyncio.gather(
        *(
            gateway.charge(key, charge_body(terminal_id=terminal))
            for _ in range(4)
            for key, terminal in ((mellat, "10000001"), (saman, "10000002"))
        ),
        return_exceptions=True,
    )
    completed = [
        body
        for answer in answers
        if not isinstance(answer, BaseException)
        for status, body in [answer]
        if status == 201
    ]
    assert completed
    rows = await db.fetch("SELECT signed FROM receipts WHERE office_id = '11110001' ORDER BY seq")
    seqs = [r["signed"]["receipt"]["seq"] for r in rows]
    assert seqs == list(range(1, len(seqs) + 1))
    _, published = await gateway.request("GET", "/v1/keys")
    report = verify_chain([r["signed"] for r in rows], VerifyingKeyring.from_public_keys(published["data"]))
    assert report.ok, report.to_dict()


async def test_a_new_signing_key_is_picked_up_without_restart_and_old_receipts_still_verify(gateway, keys, settings):
    from receipts.keys_files import create_key

    old = await _completed(gateway, keys)
    new_key = create_key(settings.key_dir)
    for _ in range(50):
        if len(gateway.services.keyring) == 2:
            break
        await asyncio.sleep(0.2)
    fresh = await _completed(gateway, keys)
    assert fresh["receipt"]["receipt"]["key_id"] == new_key.key_id != old["receipt"]["receipt"]["key_id"]
    _, published = await gateway.request("GET", "/v1/keys")
    assert {k["key_id"] for k in published["data"]} >= {new_key.key_id, old["receipt"]["receipt"]["key_id"]}
    for charge in (old, fresh):
        _, answer = await gateway.request("GET", f"/v1/receipts/{charge['tracking_code']}/verify")
        assert answer["genuine"] is True
