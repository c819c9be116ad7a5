"""Identifiers that cross the input edge: parse to one canonical form or refuse; mask for logs.

Every parser accepts what people actually type: Persian or Arabic-Indic digits, spaces, dashes.

National code (کد ملی): 10 digits; the last is a check digit over the first nine with weights
10..2, r = sum mod 11, check = r if r < 2 else 11 - r. python-stdnum has no Iranian module, hence
the small function here. One-digit-repeated codes pass that check but are never issued, so they
are refused.

National ID of a legal person (شناسه ملی اشخاص حقوقی): 11 digits; the last is a check digit over the first
ten. The published rule: add (tenth digit + 2) to each of the first ten digits, weight them 29, 27, 23, 19, 17
(twice over), r = sum mod 11, check = 0 if r == 10 else r. Digits 4 to 9 (the registration number) are never all
zero.

Foreign national identifier (شناسه فراگیر اتباع خارجی): 12 digits. No check-digit rule is published for it, so
only its shape is checked (and one digit repeated is refused, as for national codes). A foreign national without
one is identified by passport number and nationality (ISO 3166-1 alpha-2, via pycountry).

Tracking code (شماره رهگیری), 18 digits, printed on every receipt:

    OOOOOOOO SSSSSSSSS C
    |        |         `- Damm check digit over the 17 digits before it
    |        `----------- the office's receipt sequence number, zero-padded (1 .. 999,999,999)
    `-------------------- the office code (8 digits)

It is unique because each office's receipt sequence is, and the Damm digit catches every
single-digit typo and every swap of two adjacent digits when a recipient reads it back.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry
from stdnum import damm
from stdnum.iso7064 import mod_97_10

from gateway.core.text import normalize_persian

OFFICE_CODE_LENGTH = 8
SEQUENCE_LENGTH = 9
TRACKING_CODE_LENGTH = OFFICE_CODE_LENGTH + SEQUENCE_LENGTH + 1
MAX_SEQUENCE = 10**SEQUENCE_LENGTH - 1

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_NATIONAL_CODE = re.compile(r"[0-9]{10}")
_LEGAL_PERSON_ID = re.compile(r"[0-9]{11}")
_LEGAL_PERSON_ID_WEIGHTS = (29, 27, 23, 19, 17, 29, 27, 23, 19, 17)
_FOREIGN_NATIONAL_ID = re.compile(r"[0-9]{12}")
_PASSPORT_NUMBER = re.compile(r"[A-Z0-9]{5,20}")
_MOBILE = re.compile(r"(?:\+98|0098|98|0)?(9[0-9]{9})")
_IRANIAN_IBAN = re.compile(r"IR[0-9]{24}")
_OFFICE_CODE = re.compile(rf"[0-9]{{{OFFICE_CODE_LENGTH}}}")
_TRACKING_CODE = re.compile(rf"[0-9]{{{TRACKING_CODE_LENGTH}}}")
# 13 to 19 characters: six leading digits, four trailing digits, and a middle that is either
# digits (a full number) or already masked.
_PAN = re.compile(r"([0-9]{6})[0-9*xX]{3,9}([0-9]{4})")


class InvalidIdentifier(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", normalize_persian(value))


def _national_code_check_digit(first_nine: str) -> str:
    remainder = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True)) % 11
    return str(remainder if remainder < 2 else 11 - remainder)


def complete_national_code(first_nine: str) -> str:
    """The national code whose first nine digits these are (their check digit appended)."""
    return first_nine + _national_code_check_digit(first_nine)


def parse_national_code(value: str) -> str:
    """An Iranian national code as its 10 ASCII digits, or InvalidIdentifier."""
    code = _compact(value)
    if not _NATIONAL_CODE.fullmatch(code):
        raise InvalidIdentifier("national_code", "a national code has exactly 10 digits")
    if len(set(code)) == 1:
        raise InvalidIdentifier("national_code", "a national code cannot be one digit repeated")
    if code != complete_national_code(code[:9]):
        raise InvalidIdentifier("national_code", "the national code's check digit does not match")
    return code


def _legal_person_id_check_digit(first_ten: str) -> str:
    step = int(first_ten[9]) + 2
    total = sum((int(digit) + step) * weight for digit, weight in zip(first_ten, _LEGAL_PERSON_ID_WEIGHTS, strict=True))
    remainder = total % 11
    return str(0 if remainder == 10 else remainder)


def complete_legal_person_id(first_ten: str) -> str:
    """The legal person's national ID whose first ten digits these are (their check digit appended)."""
    return first_ten + _legal_person_id_check_digit(first_ten)


def parse_legal_person_id(value: str) -> str:
    """A legal person's national ID (شناسه ملی) as its 11 ASCII digits, or InvalidIdentifier."""
    national_id = _compact(value)
    if not _LEGAL_PERSON_ID.fullmatch(national_id):
        raise InvalidIdentifier("national_id", "a legal person's national ID has exactly 11 digits")
    if len(set(national_id)) == 1 or national_id[3:9] == "000000":
        raise InvalidIdentifier("national_id", "no legal person is registered under this national ID")
    if national_id != complete_legal_person_id(national_id[:10]):
        raise InvalidIdentifier("national_id", "the national ID's check digit does not match")
    return national_id


def parse_foreign_national_id(value: str) -> str:
    """A foreign national identifier (شناسه فراگیر اتباع) as its 12 ASCII digits, or InvalidIdentifier."""
    foreign_id = _compact(value)
    if not _FOREIGN_NATIONAL_ID.fullmatch(foreign_id):
        raise InvalidIdentifier("foreign_national_id", "a foreign national identifier has exactly 12 digits")
    if len(set(foreign_id)) == 1:
        raise InvalidIdentifier("foreign_national_id", "a foreign national identifier cannot be one digit repeated")
    return foreign_id


def parse_passport_number(value: str) -> str:
    """A passport number as 5 to 20 upper-case Latin letters and digits, or InvalidIdentifier."""
    passport = _compact(value).upper()
    if not _PASSPORT_NUMBER.fullmatch(passport):
        raise InvalidIdentifier("passport_number", "a passport number is 5 to 20 Latin letters and digits")
    return passport


def parse_nationality(value: str) -> str:
    """A nationality as its ISO 3166-1 alpha-2 code (from alpha-2 or alpha-3), or InvalidIdentifier."""
    code = _compact(value).upper()
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
    if country is None:
        raise InvalidIdentifier("nationality", "expected an ISO 3166-1 country code such as AF or AFG")
    if country.alpha_2 == "IR":
        raise InvalidIdentifier("nationality", "an Iranian national is identified by national code")
    return str(country.alpha_2)


def parse_mobile(value: str) -> str:
    """An Iranian mobile number as `09XXXXXXXXX`, from +98 / 0098 / 98 / 0 / no prefix."""
    match = _MOBILE.fullmatch(_compact(value))
    if match is None:
        raise InvalidIdentifier("mobile", "expected an Iranian mobile number such as 09121234567")
    return "0" + match.group(1)


@lru_cache(maxsize=65_536)  # the registry's IBANs, checked again for every charge's settlement rows
def parse_iban(value: str) -> str:
    """An Iranian IBAN (شبا) as `IR` + 24 digits, with its ISO 7064 mod 97-10 check digits verified.

    stdnum.iban cannot be used as is: its country table (the SWIFT IBAN registry) has no entry
    for Iran, so it refuses every IR number. Its mod 97-10 implementation is the same check.
    """
    iban = _compact(value).upper()
    if not _IRANIAN_IBAN.fullmatch(iban):
        raise InvalidIdentifier("iban", "an Iranian IBAN is IR followed by 24 digits")
    if not mod_97_10.is_valid(iban[4:] + iban[:4]):
        raise InvalidIdentifier("iban", "the IBAN's check digits do not match")
    return iban


def make_tracking_code(office_code: str, seq: int) -> str:
    """The 18-digit tracking code of an office's receipt number `seq` (see the module docstring)."""
    if not isinstance(office_code, str) or not _OFFICE_CODE.fullmatch(office_code):
        raise InvalidIdentifier("office_code", f"an office code has exactly {OFFICE_CODE_LENGTH} digits")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQUENCE:
        raise InvalidIdentifier("seq", f"a receipt sequence number is an integer from 1 to {MAX_SEQUENCE}")
    body = f"{office_code}{seq:0{SEQUENCE_LENGTH}d}"
    return body + damm.calc_check_digit(body)


def parse_tracking_code(value: str) -> tuple[str, int]:
    """`(office_code, seq)` from a tracking code as typed, or InvalidIdentifier."""
    code = _compact(value)
    if not _TRACKING_CODE.fullmatch(code):
        raise InvalidIdentifier("tracking_code", f"a tracking code has exactly {TRACKING_CODE_LENGTH} digits")
    if not damm.is_valid(code):
        raise InvalidIdentifier("tracking_code", "the tracking code's check digit does not match")
    seq = int(code[OFFICE_CODE_LENGTH:-1])
    if seq == 0:
        raise InvalidIdentifier("tracking_code", "a tracking code never carries receipt number 0")
    return code[:OFFICE_CODE_LENGTH], seq


def is_valid_tracking_code(value: str) -> bool:
    try:
        parse_tracking_code(value)
    except InvalidIdentifier:
        return False
    return True


# The masks never raise: a log line must not fail, and input they do not recognise is masked whole.


def mask_pan(pan: str) -> str:
    """`6037991234567890` → `603799******7890` (first 6 and last 4 digits only)."""
    compact = _compact(pan)
    match = _PAN.fullmatch(compact)
    if match is None:
        return "*" * len(compact)
    return match.group(1) + "*" * (len(compact) - 10) + match.group(2)


def mask_national_code(value: str) -> str:
    """`0012345679` → `******5679`."""
    compact = _compact(value)
    if not _NATIONAL_CODE.fullmatch(compact):
        return "*" * len(compact)
    return "*" * 6 + compact[6:]


def mask_mobile(value: str) -> str:
    """Any accepted form of `09121234567` → `0912***4567`."""
    try:
        mobile = parse_mobile(value)
    except InvalidIdentifier:
        return "*" * len(_compact(value))
    return mobile[:4] + "***" + mobile[7:]
