"""Every route the application serves × every kind of caller, own and other scope: the expected status of each cell.

A route added to the application without a row here fails `test_every_served_route_has_a_row`, so no route ships
without a decision about who may call it. HEAD (added by aiohttp beside every GET) is expected to answer as GET.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web

from gateway.access.store import revoke_api_key
from tests.stack import charge_body

TEHRAN = timezone(timedelta(hours=3, minutes=30))
CALLERS = ("none", "revoked", "terminal_own", "terminal_other", "agency_own", "agency_other", "regulator", "admin")
# Keys from the shared `keys` fixture: the charge below is made on terminal 10000001 (office 11110001) for service
# 1101 of civil-registration; terminal 10000003 belongs to office 21110002 and police is another agency.
KEY_NAMES = {
    "terminal_own": "t:10000001",
    "terminal_other": "t:10000003",
    "agency_own": "a:civil-registration",
    "agency_other": "a:police",
    "regulator": "regulator",
    "admin": "admin",
}
RECIPIENT = {"name": "پریسا نیک‌نام", "national_code": "2731041188", "mobile": "09351234567"}
PERSONAL = (RECIPIENT["name"], RECIPIENT["national_code"], RECIPIENT["mobile"], "9351234567", "۲۷۳۱۰۴۱۱۸۸")


def _everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS, status)


def _secured(**allowed: int) -> dict[str, int]:
    """401 without a valid key, 403 for roles not named, the given status for those named."""
    return {"none": 401, "revoked": 401, **dict.fromkeys(CALLERS[2:], 403), **allowed}


OWN_OFFICE_READ = _secured(terminal_own=200, terminal_other=404, regulator=200, admin=200)


@dataclass(frozen=True)
class Row:
    expected: dict[str, int]
    query: str = ""
    json: dict | None = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _today() -> str:
    return datetime.now(TEHRAN).date().isoformat()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/v1/charges"): Row(_secured(terminal_own=201, terminal_other=403), json=charge_body()),
    ("GET", "/v1/charges/{charge_id}"): Row(OWN_OFFICE_READ),
    # The charge is voided when the resources are made, so its own office meets "already voided".
    ("POST", "/v1/charges/{charge_id}/void"): Row(
        _secured(terminal_own=422, terminal_other=404), json={"reason": "other", "reason_text": "آزمون دسترسی"}
    ),
    ("GET", "/v1/charges/{charge_id}/void"): Row(OWN_OFFICE_READ),
    # A voided charge is never refunded, and has no refund to read.
    ("POST", "/v1/charges/{charge_id}/refund"): Row(
        _secured(terminal_own=422, terminal_other=404), json={"reason": "other", "reason_text": "آزمون دسترسی"}
    ),
    ("GET", "/v1/charges/{charge_id}/refund"): Row(
        _secured(terminal_own=404, terminal_other=404, regulator=404, admin=404)
    ),
    ("GET", "/v1/tariffs"): Row(_everyone(200)),
    ("GET", "/v1/tariffs/quote"): Row(_secured(terminal_own=200, terminal_other=200), query="service_code=1101"),
    ("GET", "/v1/keys"): Row(_everyone(200)),
    ("GET", "/v1/tariffs/keys"): Row(_everyone(200)),
    ("GET", "/v1/receipts/{tracking_code}"): Row(OWN_OFFICE_READ),
    ("GET", "/v1/receipts/{tracking_code}.pdf"): Row(OWN_OFFICE_READ),
    ("GET", "/v1/receipts/{tracking_code}.txt"): Row(OWN_OFFICE_READ),
    ("GET", "/v1/receipts/{tracking_code}/verify"): Row(_everyone(200)),
    ("POST", "/v1/receipts/{tracking_code}/prints"): Row(
        _secured(terminal_own=201, terminal_other=404), json={"form": "a5"}
    ),
    ("GET", "/v1/receipts/{tracking_code}/prints"): Row(OWN_OFFICE_READ),
    ("POST", "/v1/receipts/{tracking_code}/verify"): Row(_everyone(200), json={"qr_payload": "not a receipt"}),
    ("GET", "/v1/agencies/{agency_id}/settlements"): Row(
        _secured(agency_own=200, agency_other=404, regulator=200), query=f"date={_today()}"
    ),
    ("POST", "/v1/psps/{psp_id}/settlement-files"): Row(
        _secured(admin=422),
        query="kind=settlement",
        data=b"not,a,settlement,file\n",
        headers={"Content-Type": "text/csv"},
    ),
    ("GET", "/v1/reconciliation"): Row(_secured(regulator=200, admin=200), query=f"date={_today()}"),
    ("GET", "/v1/regulator/excess-fees"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/refusals"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/violations"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/voids"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/refunds"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/offices/{office_id}/scorecard"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/offices"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/offices/{office_id}/charges"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/offices/{office_id}/refusals"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/offices/{office_id}/receipts"): Row(_secured(regulator=200)),
    ("GET", "/v1/regulator/access-log/heads"): Row(_secured(regulator=200)),
    # The regulator's queries in the rows above have put entries in the access log, so there is a head to sign.
    ("POST", "/v1/regulator/access-log/heads"): Row(_secured(regulator=200)),
    ("GET", "/healthz"): Row(_everyone(200)),
    ("GET", "/readyz"): Row(_everyone(200)),
    ("GET", "/metrics"): Row(_everyone(200)),
    ("GET", "/openapi.json"): Row(_everyone(200)),
    ("GET", "/"): Row(_everyone(200)),
    # Pages for people: an API key is no session, so a page sends every caller to the sign-in form (followed here to
    # its 200), and a form posted without its CSRF token is refused.
    ("GET", "/signin"): Row(_everyone(200)),
    ("POST", "/signin"): Row(_everyone(403)),
    ("POST", "/signin/code"): Row(_everyone(403)),
    ("POST", "/signout"): Row(_everyone(403)),
    ("GET", "/account"): Row(_everyone(200)),
    ("GET", "/console"): Row(_everyone(200)),
    ("GET", "/console/offices"): Row(_everyone(200)),
    ("GET", "/console/offices/{office_id}"): Row(_everyone(200)),
    ("GET", "/console/offices/{office_id}/charges.csv"): Row(_everyone(200)),
    ("GET", "/console/offices/{office_id}/refusals.csv"): Row(_everyone(200)),
    ("POST", "/console/offices/{office_id}/chain-audit"): Row(_everyone(401)),
    ("GET", "/console/findings"): Row(_everyone(200)),
    ("GET", "/console/findings.csv"): Row(_everyone(200)),
    ("GET", "/console/objections"): Row(_everyone(200)),
    ("POST", "/console/objections/{objection_id}/decision"): Row(_everyone(401)),
    ("GET", "/console/attachments/{attachment_id}"): Row(_everyone(200)),
    ("GET", "/office"): Row(_everyone(200)),
    ("POST", "/office/findings/{violation_id}/objection"): Row(_everyone(401)),
    ("GET", "/office/attachments/{attachment_id}"): Row(_everyone(200)),
    ("GET", "/agency"): Row(_everyone(200)),
    ("GET", "/agency/statement.csv"): Row(_everyone(200)),
    # The counter, for operators signed in (tests/web/pages/test_counter.py has their scope).
    ("GET", "/counter"): Row(_everyone(200)),
    ("GET", "/counter/terminal"): Row(_everyone(200)),
    ("POST", "/counter/terminal"): Row(_everyone(403)),
    ("GET", "/counter/services"): Row(_everyone(200)),
    ("GET", "/counter/quote"): Row(_everyone(200), query="service_code=1101"),
    ("POST", "/counter/charges"): Row(_everyone(403)),
    ("GET", "/counter/charges/{charge_id}"): Row(_everyone(200)),
    ("POST", "/counter/receipts/{tracking_code}/prints"): Row(_everyone(403)),
    ("GET", "/counter/receipts/{tracking_code}/prints/{print_number}"): Row(_everyone(200)),
    ("GET", "/counter/receipts/{tracking_code}/prints/{print_number}.pdf"): Row(_everyone(200)),
    ("GET", "/counter/today"): Row(_everyone(200)),
    # The citizen's pages and complaints: public, apart from the regulator's list and decision and an office's list.
    ("GET", "/r/{tracking_code}"): Row(_everyone(200)),
    ("GET", "/r/{tracking_code}/{secret}"): Row(_everyone(200)),
    ("GET", "/q/{payload}"): Row(_everyone(404)),
    ("GET", "/offices/{office_id}/tariffs"): Row(_everyone(200)),
    ("GET", "/offices/{office_id}/tariffs.pdf"): Row(_everyone(200)),
    ("GET", "/complaints/new"): Row(_everyone(200)),
    ("POST", "/complaints/new/code"): Row(_everyone(403), data=b"tracking_code=1&mobile=2", headers=FORM),
    ("POST", "/complaints"): Row(_everyone(403), data=b"tracking_code=1&mobile=2", headers=FORM),
    ("GET", "/complaints/{number}"): Row(_everyone(404)),
    ("POST", "/v1/complaints/otp"): Row(_everyone(400), json={"tracking_code": "1", "mobile": "2"}),
    ("POST", "/v1/complaints"): Row(_everyone(400), json={}),
    ("GET", "/v1/complaints/{number}"): Row(_everyone(404)),
    ("GET", "/v1/regulator/complaints"): Row(_secured(regulator=200)),
    ("PATCH", "/v1/regulator/complaints/{number}"): Row(_secured(regulator=404, admin=404), json={"status": "upheld"}),
    ("GET", "/v1/offices/{office_id}/complaints"): Row(OWN_OFFICE_READ),
}


@pytest.fixture(scope="module")
async def callers(keys, db) -> dict[str, dict[str, str]]:
    revoked = await keys("t:10000002")
    assert await revoke_api_key(db, revoked[3:].partition(".")[0])
    headers = {name: {"Authorization": f"Bearer {await keys(key_name)}"} for name, key_name in KEY_NAMES.items()}
    return {"none": {}, "revoked": {"Authorization": f"Bearer {revoked}"}, **headers}


@pytest.fixture(scope="module")
async def resources(gateway, keys) -> dict[str, str]:
    status, charge = await gateway.charge(await keys("t:10000001"), charge_body(recipient=RECIPIENT))
    assert status == 201, charge
    status, void = await gateway.request(
        "POST",
        f"/v1/charges/{charge['id']}/void",
        key=await keys("t:10000001"),
        json={"reason": "wrong_service", "reason_text": "خدمت اشتباه"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, void
    return {
        "charge_id": charge["id"],
        "tracking_code": charge["tracking_code"],
        "agency_id": "civil-registration",
        "psp_id": "psp-mellat",
        "office_id": "11110001",
        "violation_id": "1",
        "objection_id": "1",
        "attachment_id": "1",
        "print_number": "1",
        "secret": "not-the-secret",
        "payload": "PK1.not.signed",
        "number": "C-2222-2222-2222",
    }


def test_every_served_route_has_a_row(gateway):
    served = {
        (route.method, route.resource.canonical)
        for route in gateway.app.router.routes()
        if route.method != "HEAD" and not isinstance(route.resource, web.StaticResource)
    }
    assert served - MATRIX.keys() == set(), "routes without an authorisation row"
    assert MATRIX.keys() - served == set(), "rows for routes the application does not serve"


def _cells():
    for (method, path), row in MATRIX.items():
        methods = (method, "HEAD") if method == "GET" else (method,)
        for sent in methods:
            yield pytest.param(sent, path, row, id=f"{sent} {path}")


@pytest.mark.parametrize("method, path, row", list(_cells()))
async def test_each_caller_gets_the_expected_status(gateway, callers, resources, method, path, row):
    url = path.format(**resources) + (f"?{row.query}" if row.query else "")
    seen = {}
    for caller, auth in callers.items():
        headers = {**row.headers, **auth, "Idempotency-Key": uuid.uuid4().hex}
        async with gateway.session.request(
            method, gateway.url + url, json=row.json, data=row.data, headers=headers
        ) as response:
            seen[caller] = response.status
            if response.status >= 400 and method != "HEAD":
                error = (await response.json())["error"]
                assert {"type", "code", "message", "param", "details"} <= error.keys()
    assert seen == row.expected


async def test_public_routes_reveal_no_personal_data(gateway, resources):
    public = [(method, path, row) for (method, path), row in MATRIX.items() if row.expected["none"] == 200]
    assert len(public) >= 8
    for method, path, row in public:
        url = path.format(**resources) + (f"?{row.query}" if row.query else "")
        async with gateway.session.request(
            method, gateway.url + url, json=row.json, data=row.data, headers=row.headers
        ) as response:
            body = (await response.read()).decode("utf-8", errors="replace")
        assert response.status == 200
        for value in PERSONAL:
            assert value not in body, f"{method} {path} reveals {value!r}"
