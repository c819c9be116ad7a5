"""Printed receipts are immutable: ETag, Cache-Control, and 304 Not Modified without rendering."""

from __future__ import annotations

from gateway.receipt_book.links import ReceiptLinks
from gateway.web.routes import receipts as routes_receipts
from tests.stack import charge_body

CACHE_CONTROL = "private, max-age=31536000, immutable"
FORMS = (".pdf?size=a5", ".pdf?size=80mm", ".txt", ".txt?charset=windows-1256")


async def _fetch(gateway, path: str, key: str, **headers: str):
    async with gateway.session.get(gateway.url + path, headers={"Authorization": f"Bearer {key}", **headers}) as r:
        return r.status, r.headers, await r.read()


async def _receipt(gateway, keys, terminal="10000001", operator="op-11") -> str:
    status, charge = await gateway.charge(
        await keys(f"t:{terminal}"), charge_body(terminal_id=terminal, operator_id=operator)
    )
    assert status == 201, charge
    return charge["tracking_code"]


async def test_printed_forms_carry_a_strong_etag_per_form_and_may_be_kept_privately(gateway, keys):
    code = await _receipt(gateway, keys)
    key = await keys("t:10000001")
    etags = []
    for form in FORMS:
        status, headers, body = await _fetch(gateway, f"/v1/receipts/{code}{form}", key)
        assert status == 200 and body
        assert headers["Cache-Control"] == CACHE_CONTROL and headers["Vary"] == "Authorization"
        assert headers["ETag"].startswith('"') and headers["ETag"].endswith('"')  # strong: no W/
        again = await _fetch(gateway, f"/v1/receipts/{code}{form}", key)
        assert again[1]["ETag"] == headers["ETag"] and again[2] == body
        etags.append(headers["ETag"])
    assert len(set(etags)) == len(FORMS)

    other = await _receipt(gateway, keys)
    _, headers, _ = await _fetch(gateway, f"/v1/receipts/{other}{FORMS[0]}", key)
    assert headers["ETag"] != etags[0]


async def test_a_held_copy_is_answered_304_without_rendering(gateway, keys, monkeypatch):
    code = await _receipt(gateway, keys)
    key = await keys("t:10000001")
    etags = {form: (await _fetch(gateway, f"/v1/receipts/{code}{form}", key))[1]["ETag"] for form in FORMS}

    def refuse(*args, **kwargs):
        raise AssertionError("signed or rendered although the client holds the current copy")

    for name in ("render_thermal", "_rendered_pdf"):
        monkeypatch.setattr(routes_receipts, name, refuse)
    monkeypatch.setattr(ReceiptLinks, "qr_url", refuse)
    for form, etag in etags.items():
        for held in (etag, f"W/{etag}", f'"elsewhere", {etag}', "*"):
            status, headers, body = await _fetch(gateway, f"/v1/receipts/{code}{form}", key, **{"If-None-Match": held})
            assert (status, body) == (304, b""), (form, held)
            assert headers["ETag"] == etag and headers["Cache-Control"] == CACHE_CONTROL
            assert headers["Vary"] == "Authorization"


async def test_another_form_or_a_stale_tag_is_served_in_full(gateway, keys):
    code = await _receipt(gateway, keys)
    key = await keys("t:10000001")
    a5 = (await _fetch(gateway, f"/v1/receipts/{code}.pdf?size=a5", key))[1]["ETag"]

    status, headers, body = await _fetch(gateway, f"/v1/receipts/{code}.pdf?size=80mm", key, **{"If-None-Match": a5})
    assert status == 200 and body.startswith(b"%PDF") and headers["ETag"] != a5
    status, _, body = await _fetch(
        gateway, f"/v1/receipts/{code}.pdf?size=a5", key, **{"If-None-Match": '"0123456789abcdef"'}
    )
    assert status == 200 and body.startswith(b"%PDF")


async def test_a_held_tag_does_not_reveal_another_offices_receipt(gateway, keys):
    code = await _receipt(gateway, keys)
    etag = (await _fetch(gateway, f"/v1/receipts/{code}.txt", await keys("t:10000001")))[1]["ETag"]

    for held in (etag, "*"):
        status, headers, _ = await _fetch(
            gateway, f"/v1/receipts/{code}.txt", await keys("t:10000003"), **{"If-None-Match": held}
        )
        assert status == 404 and "ETag" not in headers
