"""Printing a receipt on paper: the first print is the original, every later one a copy («رونوشت»), each recorded."""

from __future__ import annotations

import subprocess
import unicodedata

from receipts.printed import COPY_MARK
from tests.stack import charge_body


def pdf_text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def has_copy_mark(text: str) -> bool:
    # pdftotext gives the shaped letters (presentation forms); fold them back before looking for the word.
    return COPY_MARK in unicodedata.normalize("NFKC", text).replace("\u200c", "")


async def test_a_reprint_is_a_recorded_copy_and_the_original_stays_unmarked(gateway, keys, tmp_path):
    key = await keys("t:10000001")
    status, charge = await gateway.charge(key, charge_body())
    assert status == 201, charge
    code = charge["tracking_code"]
    prints = f"/v1/receipts/{code}/prints"

    status, first = await gateway.request("POST", prints, key=key, json={"form": "80mm"})
    assert status == 201, first
    assert (first["number"], first["copy"], first["form"]) == (1, False, "80mm")
    assert first["printed_by"].startswith("key:") and first["url"] == f"/v1/receipts/{code}.pdf?size=80mm&print=1"
    status, second = await gateway.request("POST", prints, key=key, json={"form": "a5"})
    assert (status, second["number"], second["copy"]) == (201, 2, True)
    status, third = await gateway.request("POST", prints, key=key, json={"form": "txt"})
    assert (status, third["number"], third["url"]) == (201, 3, f"/v1/receipts/{code}.txt?print=3")

    _, original = await gateway.request("GET", first["url"], key=key)
    _, copy = await gateway.request("GET", second["url"], key=key)
    _, plain = await gateway.request("GET", f"/v1/receipts/{code}.pdf?size=a5", key=key)
    _, thermal_copy = await gateway.request("GET", third["url"], key=key)
    assert not has_copy_mark(pdf_text(original, tmp_path, "original.pdf"))
    assert has_copy_mark(pdf_text(copy, tmp_path, "copy.pdf"))
    assert not has_copy_mark(pdf_text(plain, tmp_path, "plain.pdf"))
    assert COPY_MARK in thermal_copy.decode()

    status, listed = await gateway.request("GET", prints, key=await keys("regulator"))
    assert status == 200
    assert [(p["number"], p["form"], p["copy"]) for p in listed["data"]] == [
        (1, "80mm", False),
        (2, "a5", True),
        (3, "txt", True),
    ]


async def test_prints_are_the_office_s_own_and_named_by_number_and_form(gateway, keys):
    key = await keys("t:10000001")
    _, charge = await gateway.charge(key, charge_body())
    code = charge["tracking_code"]
    prints = f"/v1/receipts/{code}/prints"
    await gateway.request("POST", prints, key=key, json={"form": "a5"})

    elsewhere = await keys("t:10000003")
    assert (await gateway.request("POST", prints, key=elsewhere, json={"form": "a5"}))[0] == 404
    assert (await gateway.request("GET", prints, key=elsewhere))[0] == 404
    assert (await gateway.request("POST", prints, key=await keys("regulator"), json={"form": "a5"}))[0] == 403
    status, error = await gateway.request("POST", prints, key=key, json={"form": "a4"})
    assert (status, error["error"]["param"]) == (400, "form")

    pdf = f"/v1/receipts/{code}.pdf"
    status, error = await gateway.request("GET", f"{pdf}?size=80mm&print=1", key=key)
    assert (status, error["error"]["param"]) == (400, "print")  # print 1 was the A5 form
    assert (await gateway.request("GET", f"{pdf}?size=a5&print=2", key=key))[0] == 404
    for bad in ("0", "x", "۱", "99999999"):
        status, error = await gateway.request("GET", f"{pdf}?size=a5&print={bad}", key=key)
        assert (status, error["error"]["param"]) == (400, "print"), bad
    assert (await gateway.request("GET", f"{pdf}?size=a5&print=1", key=key))[0] == 200
