"""One office's records over HTTP: the offices list, an office's charges and refusals (pages joined by their
cursor equal the CSV), its signed receipts as JSON lines that `pishkhan receipts verify` accepts, and a provincial
key that sees only its own province."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from urllib.parse import quote

from gateway.access.store import create_api_key
from tests.oversight.support import recipient
from tests.stack import charge_body

TEHRAN_OFFICE = "11110001"
KASHAN = "31110003"


async def _pages(gateway, key: str, path: str, limit: int = 2) -> list[dict]:
    rows, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = await gateway.request("GET", f"{path}?{query}", key=key)
        assert status == 200, body
        rows.extend(body["data"])
        if not body["has_more"]:
            return rows
        cursor = body["next_cursor"]


def _csv(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


async def test_an_office_s_charges_and_refusals_in_pages_equal_their_csv(gateway, keys):
    terminal = await keys("t:10000001")
    for amount in (700_000, 700_000, 700_000):
        status, answer = await gateway.charge(terminal, charge_body(recipient=recipient(), amount=amount))
        assert status == 201, answer
    status, answer = await gateway.charge(terminal, charge_body(recipient=recipient(), amount=5_000_000))
    assert status == 422 and answer["error"]["code"] == "excess_fee"

    regulator = await keys("regulator")
    charges = await _pages(gateway, regulator, f"/v1/regulator/offices/{TEHRAN_OFFICE}/charges")
    assert len(charges) >= 3 and len({c["id"] for c in charges}) == len(charges)
    assert all("recipient_national_code" not in c for c in charges)
    status, body = await gateway.request(
        "GET", f"/v1/regulator/offices/{TEHRAN_OFFICE}/charges?format=csv", key=regulator
    )
    assert status == 200
    assert [row["id"] for row in _csv(body)] == [c["id"] for c in charges]
    assert [int(row["amount"]) for row in _csv(body)] == [c["amount"] for c in charges]

    refusals = await _pages(gateway, regulator, f"/v1/regulator/offices/{TEHRAN_OFFICE}/refusals")
    excess = [r for r in refusals if r["reason"] == "excess_fee"]
    assert excess and excess[-1]["requested"] == 5_000_000 and excess[-1]["cap"] < 5_000_000
    status, body = await gateway.request(
        "GET", f"/v1/regulator/offices/{TEHRAN_OFFICE}/refusals", key=regulator, headers={"Accept": "text/csv"}
    )
    assert [int(row["id"]) for row in _csv(body)] == [r["id"] for r in refusals]


async def test_the_offices_list_carries_licence_terminals_and_psps(gateway, keys):
    rows = await _pages(gateway, await keys("regulator"), "/v1/regulator/offices")
    by_id = {row["id"]: row for row in rows}
    assert TEHRAN_OFFICE in by_id and KASHAN in by_id
    assert by_id[TEHRAN_OFFICE]["terminals"] == 2
    assert by_id[TEHRAN_OFFICE]["psps"] == ["psp-mellat", "psp-saman"]
    status, body = await gateway.request(
        "GET", "/v1/regulator/offices?kind=rural_ict&format=csv", key=await keys("regulator")
    )
    assert status == 200 and all(row["kind"] == "rural_ict" for row in _csv(body))


async def test_receipt_pages_joined_verify_with_the_command_line(gateway, keys, settings, tmp_path):
    terminal = await keys("t:10000001")
    for _ in range(3):
        status, _answer = await gateway.charge(terminal, charge_body(recipient=recipient()))
        assert status == 201
    regulator = await keys("regulator")
    lines, path = [], f"/v1/regulator/offices/{TEHRAN_OFFICE}/receipts?limit=2"
    while path:
        async with gateway.session.get(
            gateway.url + path, headers={"Authorization": f"Bearer {regulator}"}
        ) as response:
            assert response.status == 200
            assert response.content_type == "application/jsonl"
            lines.append(await response.text())
            following = response.headers.get("Pishkhan-Next-From-Seq")
            path = f"/v1/regulator/offices/{TEHRAN_OFFICE}/receipts?from_seq={following}&limit=2" if following else ""
    export = tmp_path / "receipts.jsonl"
    export.write_text("".join(lines), encoding="utf-8")
    assert export.read_text().count("\n") >= 3
    env = {**os.environ, "PISHKHAN_KEY_DIR": str(settings.key_dir)}
    verified = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "receipts", "verify", str(export)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_a_provincial_key_sees_only_its_province(gateway, db):
    isfahan = await create_api_key(db, role="regulator", province="اصفهان", label="isfahan inspectorate")
    for suffix in ("charges", "refusals", "receipts", "scorecard"):
        status, body = await gateway.request("GET", f"/v1/regulator/offices/{TEHRAN_OFFICE}/{suffix}", key=isfahan)
        assert status == 404 and body["error"]["code"] == "resource_missing", suffix
    status, _ = await gateway.request("GET", f"/v1/regulator/offices/{KASHAN}/charges", key=isfahan)
    assert status == 200
    rows = await _pages(gateway, isfahan, "/v1/regulator/offices", limit=10)
    assert {row["province"] for row in rows} == {"اصفهان"}
    status, body = await gateway.request("GET", f"/v1/regulator/violations?province={quote('تهران')}", key=isfahan)
    assert status == 200 and body["data"] == []
