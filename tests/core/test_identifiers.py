import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import damm

from gateway.core.identifiers import (
    InvalidIdentifier,
    is_valid_tracking_code,
    make_tracking_code,
    mask_mobile,
    mask_national_code,
    mask_pan,
    parse_iban,
    parse_mobile,
    parse_national_code,
    parse_tracking_code,
)
from gateway.core.text import to_persian_digits

office_codes = st.text(alphabet="0123456789", min_size=8, max_size=8)
sequences = st.integers(min_value=1, max_value=999_999_999)


def field_of(call, *args):
    with pytest.raises(InvalidIdentifier) as caught:
        call(*args)
    assert caught.value.message and isinstance(caught.value, ValueError)
    return caught.value.field


# ---------------------------------------------------------------- national code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("0012345679", "0012345679"),  # remainder 2 → check digit 9
        ("1234567891", "1234567891"),  # remainder 1 → check digit 1
        ("2000000010", "2000000010"),  # remainder 0 → check digit 0
        ("۰۰۱۲۳۴۵۶۷۹", "0012345679"),
        ("٠٠١٢٣٤٥٦٧٩", "0012345679"),
        (" 001-234567-9 ", "0012345679"),
    ],
)
def test_parse_national_code_accepts_valid_codes_as_typed(raw, code):
    assert parse_national_code(raw) == code


@pytest.mark.parametrize(
    "raw",
    [
        "0012345678",  # wrong check digit
        "1234567890",
        "012345679",
        "00123456790",
        "",
        "00123a5679",
        "1111111111",
        "0000000000",  # pass the checksum, never issued
    ],
)
def test_parse_national_code_refuses(raw):
    assert field_of(parse_national_code, raw) == "national_code"


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1))
def test_exactly_one_check_digit_completes_any_nine_digits(first_nine):
    accepted = []
    for last in "0123456789":
        with contextlib.suppress(InvalidIdentifier):
            accepted.append(parse_national_code(first_nine + last))
    assert len(accepted) == 1


# ---------------------------------------------------------------- mobile


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "9121234567",
        "+989121234567",
        "00989121234567",
        "989121234567",
        "0912 123 4567",
        "0912-123-4567",
        "+98 912 123 4567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
    ],
)
def test_parse_mobile_normalises_every_accepted_form(raw):
    assert parse_mobile(raw) == "09121234567"


@pytest.mark.parametrize(
    "raw",
    [
        "02188776655",  # Tehran landline
        "+982188776655",
        "0912123456",  # too short
        "091212345678",  # too long
        "08121234567",  # not a 9 after the prefix
        "+19121234567",
        "0098 21 1234 5678",
        "",
        "0912123456a",
    ],
)
def test_parse_mobile_refuses(raw):
    assert field_of(parse_mobile, raw) == "mobile"


# ---------------------------------------------------------------- IBAN

VALID_IBAN = "IR062960000000100324200001"


@pytest.mark.parametrize(
    "raw",
    [
        VALID_IBAN,
        "ir062960000000100324200001",
        "IR06 2960 0000 0010 0324 2000 01",
        "IR" + to_persian_digits(VALID_IBAN[2:]),
    ],
)
def test_parse_iban_accepts_iranian_ibans_as_typed(raw):
    assert parse_iban(raw) == VALID_IBAN


@pytest.mark.parametrize(
    "raw",
    [
        "IR072960000000100324200001",  # check digits off by one
        "IR062960000000100324200002",  # one digit of the account changed
        "IR06296000000010032420000",  # 23 digits
        "DE89370400440532013000",  # valid German IBAN, not Iranian
        "062960000000100324200001",
        "",
    ],
)
def test_parse_iban_refuses(raw):
    assert field_of(parse_iban, raw) == "iban"


# ---------------------------------------------------------------- tracking code


def test_tracking_code_layout():
    code = make_tracking_code("10000001", 42)
    assert len(code) == 18 and code.isdigit()
    assert code[:8] == "10000001" and code[8:17] == "000000042"
    assert parse_tracking_code(code) == ("10000001", 42)


@given(office_codes, sequences)
def test_tracking_code_round_trips(office_code, seq):
    code = make_tracking_code(office_code, seq)
    assert parse_tracking_code(code) == (office_code, seq)
    assert parse_tracking_code(to_persian_digits(f"{code[:8]} {code[8:]}")) == (office_code, seq)


@given(office_codes, sequences, st.data())
def test_tracking_code_catches_every_single_digit_typo(office_code, seq, data):
    code = make_tracking_code(office_code, seq)
    position = data.draw(st.integers(0, 17))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    assert not is_valid_tracking_code(code[:position] + wrong + code[position + 1 :])


@given(office_codes, sequences)
def test_tracking_code_catches_every_adjacent_transposition(office_code, seq):
    code = make_tracking_code(office_code, seq)
    for i in range(17):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not is_valid_tracking_code(swapped), swapped


@pytest.mark.parametrize(
    ("office_code", "seq", "field"),
    [
        ("1000001", 1, "office_code"),
        ("1000000a", 1, "office_code"),
        ("۱۰۰۰۰۰۰۱", 1, "office_code"),
        ("10000001", 0, "seq"),
        ("10000001", 1_000_000_000, "seq"),
        ("10000001", True, "seq"),
        ("10000001", 1.0, "seq"),
    ],
)
def test_make_tracking_code_refuses_bad_parts(office_code, seq, field):
    assert field_of(make_tracking_code, office_code, seq) == field


def test_parse_tracking_code_refuses_wrong_length_and_receipt_zero():
    code = make_tracking_code("10000001", 7)
    assert field_of(parse_tracking_code, code[:-1]) == "tracking_code"
    assert field_of(parse_tracking_code, code + "0") == "tracking_code"
    body = "10000001" + "0" * 9
    assert field_of(parse_tracking_code, body + damm.calc_check_digit(body)) == "tracking_code"


# ---------------------------------------------------------------- masks


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("6037991234567890", "603799******7890"),
        ("6037-9912-3456-7890", "603799******7890"),
        ("603799******7890", "603799******7890"),
        ("603799XXXXXX7890", "603799******7890"),
        ("6219861234567", "621986***4567"),  # 13 digits
        ("6219861234567890123", "621986*********0123"),  # 19 digits
        ("123456789012", "************"),  # too short to show 10 digits safely
        ("not a card", "********"),
    ],
)
def test_mask_pan(raw, masked):
    assert mask_pan(raw) == masked


@given(st.text(alphabet="0123456789 -*", max_size=30))
def test_mask_pan_never_shows_more_than_ten_digits(raw):
    assert len(re.findall(r"[0-9]", mask_pan(raw))) <= 10


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("0012345679", "******5679"),
        ("۰۰۱۲۳۴۵۶۷۹", "******5679"),
        ("12345", "*****"),
    ],
)
def test_mask_national_code(raw, masked):
    assert mask_national_code(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("09121234567", "0912***4567"),
        ("+98 912 123 4567", "0912***4567"),
        ("02188776655", "***********"),
    ],
)
def test_mask_mobile(raw, masked):
    assert mask_mobile(raw) == masked
