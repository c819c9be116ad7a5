"""Property tests for what crosses the edge: a charge written with Persian/Arabic digits, Arabic ي/ك and invisible
characters is the same charge; anything that is not a valid charge is refused in the shared error shape; and a
refused request changes nothing, except the refusal record the rules require."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.core.errors import GatewayError
from gateway.core.identifiers import InvalidIdentifier, parse_national_code
from gateway.web.errors import status_of
from gateway.web.schemas import MAX_AMOUNT, ChargeRequest, parse_body

ERROR_FIELDS = {"type", "code", "message", "param", "details"}
TERMINAL, OPERATOR = "10000003", "op-21"  # office 21110002 on psp-sadad
BASE = {
    "terminal_id": TERMINAL,
    "operator_id": OPERATOR,
    "service_code": "1101",
    "quantity": 1,
    "extras": [{"code": "scan_page", "quantity": 2}],
    "recipient": {"name": "کاوه یزدانی‌فر", "national_code": "0012345679", "mobile": "09121234567"},
    "amount": 700_000,
    "payment_method": "card",
}
INVISIBLE = [
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u202a",
    "\u202c",
    "\u2066",
    "\u2069",
]
PERSIAN_DIGITS, ARABIC_DIGITS = "۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩"
SPELLINGS = [
    str.maketrans("0123456789", PERSIAN_DIGITS),
    str.maketrans("0123456789", ARABIC_DIGITS),
    str.maketrans({"ی": "ي", "ک": "ك"}),
    str.maketrans({"ی": "ى"}),
]
# Free text and identifiers; payment_method is a closed word compared exactly (anything but "card" is refused).
LOOSE_FIELDS = [
    ("terminal_id",),
    ("operator_id",),
    ("service_code",),
    ("extras", 0, "code"),
    ("recipient", "name"),
    ("recipient", "national_code"),
    ("recipient", "mobile"),
]
STRING_LIMITS = {
    ("operator_id",): 64,
    ("recipient", "name"): 200,
    ("recipient", "national_code"): 40,
    ("recipient", "mobile"): 40,
    ("payment_method",): 32,
    ("extras", 0, "code"): 64,
}


@st.composite
def _loosely_written(draw, text: str) -> str:
    """The same text as a keyboard might send it: Persian or Arabic-Indic digits, Arabic ي/ى/ك, and invisible
    characters anywhere."""
    for spelling in draw(st.lists(st.sampled_from(SPELLINGS), max_size=3)):
        text = text.translate(spelling)
    insertions = draw(st.lists(st.tuples(st.integers(0, len(text)), st.sampled_from(INVISIBLE)), max_size=4))
    for position, character in sorted(insertions, reverse=True):
        text = text[:position] + character + text[position:]
    return text


def _with(body: dict, path: tuple, value) -> dict:
    copy = json.loads(json.dumps(body))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def _get(body: dict, path: tuple):
    for part in path:
        body = body[part]
    return body


@st.composite
def loosely_written_bodies(draw, base: dict = BASE) -> dict:
    body = base
    for path in LOOSE_FIELDS:
        body = _with(body, path, draw(_loosely_written(_get(base, path))))
    mobile = draw(st.sampled_from(["09121234567", "+989121234567", "00989121234567", "9121234567"]))
    return _with(body, ("recipient", "mobile"), draw(_loosely_written(mobile)))


def _parsed(body: dict) -> dict:
    return parse_body(ChargeRequest, json.dumps(body, ensure_ascii=False).encode()).model_dump()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loosely_written_bodies())
def test_a_loosely_written_charge_parses_to_the_plain_one(body):
    assert _parsed(body) == _parsed(BASE)


not_whole_rials = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(max_value=0),
    st.integers(min_value=MAX_AMOUNT + 1, max_value=10**40),
    st.integers(1, 10**9).map(str),
    st.integers(1, 10**9).map(lambda n: "".join(PERSIAN_DIGITS[int(d)] for d in str(n))),
    st.booleans(),
    st.none(),
    st.lists(st.integers(1, 9), max_size=2),
)
not_quantities = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(max_value=0),
    st.integers(min_value=1001),
    st.integers(1, 5).map(str),
    st.booleans(),
    st.none(),
)
over_long_strings = st.sampled_from(sorted(STRING_LIMITS)).flatmap(
    lambda path: st.tuples(
        st.just(path),
        st.tuples(
            st.text(alphabet="بپتثجچ0123456789abc", min_size=1, max_size=4),
            st.integers(STRING_LIMITS[path] + 1, STRING_LIMITS[path] + 300),
        ).map(lambda piece: (piece[0] * piece[1])[: piece[1]]),
    )
)


def _is_a_national_code(code: str) -> bool:
    try:
        parse_national_code(code)
    except InvalidIdentifier:
        return False
    return True


def _with_a_wrong_check_digit(first_nine: str) -> str:
    """Exactly one last digit makes nine digits a national code; this picks another."""
    digit = (int(first_nine) + 1) % 10
    return first_nine + str(digit if not _is_a_national_code(f"{first_nine}{digit}") else (digit + 1) % 10)


@st.composite
def invalid_bodies(draw) -> dict:
    """A charge body with one thing wrong that no normalisation can mend."""
    kind = draw(
        st.sampled_from(
            [
                "amount",
                "quantity",
                "extra_quantity",
                "long",
                "type",
                "unknown",
                "missing",
                "national_code",
                "mobile",
                "too_many_extras",
            ]
        )
    )
    if kind == "amount":
        return _with(BASE, ("amount",), draw(not_whole_rials))
    if kind == "quantity":
        return _with(BASE, ("quantity",), draw(not_quantities))
    if kind == "extra_quantity":
        return _with(BASE, ("extras", 0, "quantity"), draw(not_quantities))
    if kind == "long":
        path, text = draw(over_long_strings)
        return _with(BASE, path, text)
    if kind == "type":
        path = draw(st.sampled_from([*LOOSE_FIELDS, ("payment_method",)]))
        # A missing (null) payment_method is not the parser's to refuse: the charge rules refuse and record it.
        nothing = st.nothing() if path == ("payment_method",) else st.none()
        return _with(
            BASE,
            path,
            draw(
                st.one_of(
                    st.integers(),
                    nothing,
                    st.lists(st.text(max_size=3), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                )
            ),
        )
    if kind == "unknown":
        return {**BASE, draw(st.sampled_from(["fee", "discount", "amount_toman", "__proto__"])): 1}
    if kind == "missing":
        body = dict(BASE)
        del body[draw(st.sampled_from(["terminal_id", "operator_id", "service_code", "recipient", "amount"]))]
        return body
    if kind == "national_code":
        # Ten digits whose check digit is wrong, or not ten digits at all.
        code = draw(
            st.one_of(
                st.from_regex(r"\A[0-9]{9}\Z").map(_with_a_wrong_check_digit),
                st.from_regex(r"\A[0-9]{1,9}\Z"),
                st.from_regex(r"\A[0-9]{11,20}\Z"),
            )
        )
        return _with(BASE, ("recipient", "national_code"), code)
    if kind == "mobile":
        return _with(BASE, ("recipient", "mobile"), draw(st.from_regex(r"\A(0?[0-8][0-9]{9}|09[0-9]{0,8})\Z")))
    return _with(BASE, ("extras",), [{"code": "scan_page", "quantity": 1}] * draw(st.integers(21, 40)))


def _refusal(raw: bytes) -> GatewayError:
    try:
        parse_body(ChargeRequest, raw)
    except GatewayError as error:
        return error
    raise AssertionError(f"accepted: {raw[:200]!r}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_bodies())
def test_an_invalid_charge_is_refused_with_400_in_the_error_shape(body):
    error = _refusal(json.dumps(body, ensure_ascii=False).encode())
    assert status_of(error) == 400 and error.code == "parameter_invalid"
    assert set(error.body()["error"]) == ERROR_FIELDS and error.param


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), st.text(max_size=100).map(str.encode)))
def test_bytes_that_are_not_a_json_object_are_refused(raw):
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    assume(not isinstance(document, dict))
    error = _refusal(raw)
    assert status_of(error) == 400 and error.code in ("invalid_json", "parameter_invalid")


async def _row_counts(db) -> tuple[int, int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM charges), (SELECT count(*) FROM refusals), "
        "(SELECT count(*) FROM idempotency_keys)"
    )
    return tuple(row)


CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "text/csv", "application/octet-stream"]


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


@st.composite
def refused_requests(draw) -> tuple[bytes, str]:
    """(body, Content-Type) pairs the gateway must refuse before anything is stored."""
    kind = draw(st.sampled_from(["invalid", "bad_json", "media_type"]))
    if kind == "invalid":
        return json.dumps(draw(invalid_bodies()), ensure_ascii=False).encode(), "application/json"
    if kind == "bad_json":
        return draw(st.binary(max_size=300).filter(lambda raw: not _is_json_object(raw))), "application/json"
    return json.dumps(BASE).encode(), draw(st.sampled_from(CONTENT_TYPES))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempt=refused_requests())
async def test_a_refused_request_changes_nothing(gateway, keys, db, attempt):
    body, content_type = attempt
    before = await _row_counts(db)
    status, answer = await gateway.request(
        "POST",
        "/v1/charges",
        key=await keys(f"t:{TERMINAL}"),
        data=body,
        headers={"Content-Type": content_type, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert status in (400, 415), answer
    assert set(answer["error"]) >= ERROR_FIELDS
    assert await _row_counts(db) == before


@settings(max_examples=8, deadline=None)
@given(excess=st.integers(1, MAX_AMOUNT // 2))
async def test_an_excess_fee_records_exactly_one_refusal_and_nothing_else(gateway, keys, db, excess):
    key = await keys(f"t:{TERMINAL}")
    _, quote = await gateway.request("GET", "/v1/tariffs/quote?service_code=1101", key=key)
    charges, refusals, idempotency = await _row_counts(db)
    status, answer = await gateway.charge(key, {**BASE, "extras": [], "amount": quote["cap"] + excess})
    assert status == 422 and answer["error"]["code"] == "excess_fee"
    assert answer["error"]["details"]["excess"] == excess
    assert await _row_counts(db) == (charges, refusals + 1, idempotency + 1)


@settings(max_examples=4, deadline=None)
@given(body=loosely_written_bodies({**BASE, "extras": [{"code": "scan_page", "quantity": 1}], "amount": 600_000}))
async def test_a_loosely_written_charge_is_stored_in_the_normal_form(gateway, keys, db, body):
    status, charge = await gateway.charge(await keys(f"t:{TERMINAL}"), body)
    assert status == 201, charge
    stored = await db.fetchrow(
        "SELECT terminal_id, operator_id, service_code, extras, recipient_name, "
        "recipient_national_code, recipient_mobile FROM charges WHERE id = $1",
        uuid.UUID(charge["id"]),
    )
    assert dict(stored) == {
        "terminal_id": TERMINAL,
        "operator_id": OPERATOR,
        "service_code": "1101",
        "extras": [{"code": "scan_page", "quantity": 1}],
        "recipient_name": "کاوه یزدانی‌فر",
        "recipient_national_code": "0012345679",
        "recipient_mobile": "09121234567",
    }
