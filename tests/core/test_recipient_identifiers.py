"""Every kind of recipient is validated by its own rule: a legal person's national ID (its check digit), a foreign
national identifier, a passport number and nationality; and each kind's Iran Poosheh address and identity key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.identifiers import (
    InvalidIdentifier,
    complete_legal_person_id,
    parse_foreign_national_id,
    parse_legal_person_id,
    parse_nationality,
    parse_passport_number,
)
from gateway.core.recipients import RecipientId, RecipientKind, masked_identifier, parse_inbox_address
from gateway.core.text import to_persian_digits

ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10).filter(lambda d: d[3:9] != "000000")


@pytest.mark.parametrize("raw", ["10380284790", "۱۰۳۸۰۲۸۴۷۹۰", "103-8028-4790", " 10380284790 "])
def test_a_published_national_id_is_accepted_as_typed(raw):
    assert parse_legal_person_id(raw) == "10380284790"


@given(ten_digits)
def test_exactly_one_check_digit_completes_any_ten_digits(first_ten):
    valid = [d for d in "0123456789" if _accepted(parse_legal_person_id, first_ten + d)]
    assert valid == ([complete_legal_person_id(first_ten)[-1]] if len(set(first_ten)) > 1 else valid)


@given(ten_digits, st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=9))
def test_a_single_digit_typo_in_a_national_id_is_caught(first_ten, position, change):
    """Every typo changes the weighted sum mod 11; only a remainder of 10 and of 0 share the check digit 0."""
    national_id = complete_legal_person_id(first_ten)
    typo = national_id[:position] + str((int(national_id[position]) + change) % 10) + national_id[position + 1 :]
    assert not _accepted(parse_legal_person_id, typo) or typo[-1] == "0"


@pytest.mark.parametrize("raw", ["10380284791", "1038028479", "103802847900", "11111111111", "10300000000", "abc"])
def test_bad_national_ids_are_refused(raw):
    with pytest.raises(InvalidIdentifier) as caught:
        parse_legal_person_id(raw)
    assert caught.value.field == "national_id"


def test_foreign_national_identifier_is_twelve_digits():
    assert parse_foreign_national_id(to_persian_digits("123456789012")) == "123456789012"
    for wrong in ("12345678901", "1234567890123", "111111111111", "12345678901A"):
        with pytest.raises(InvalidIdentifier):
            parse_foreign_national_id(wrong)


def test_passport_number_and_nationality():
    assert parse_passport_number(" p01234567 ") == "P01234567"
    assert parse_nationality("afg") == parse_nationality("AF") == "AF"
    for call, wrong in (
        (parse_passport_number, "P-1"),
        (parse_passport_number, "پاسپورت۱۲۳"),
        (parse_nationality, "XX"),
    ):
        with pytest.raises(InvalidIdentifier):
            call(wrong)
    with pytest.raises(InvalidIdentifier, match="national code"):
        parse_nationality("IR")


def test_each_kind_has_its_own_inbox_and_a_passport_has_none():
    assert RecipientId(RecipientKind.INDIVIDUAL, "0012345679").poosheh_address() == "iran0012345679"
    assert RecipientId(RecipientKind.LEGAL_PERSON, "10380284790").poosheh_address() == "iran10380284790"
    assert RecipientId(RecipientKind.FOREIGN_NATIONAL, "123456789012").poosheh_address() == "iran123456789012"
    passport = RecipientId.by_passport("AF", "P01234567")
    assert passport.identifier == "AF:P01234567" and passport.poosheh_address() is None
    assert passport.national_code is None
    assert parse_inbox_address("iran10380284790") == "iran10380284790"


def test_identifiers_of_different_kinds_never_collide():
    identifiers = {
        RecipientId(RecipientKind.INDIVIDUAL, "0012345679").identifier,
        RecipientId(RecipientKind.LEGAL_PERSON, "10380284790").identifier,
        RecipientId(RecipientKind.FOREIGN_NATIONAL, "123456789012").identifier,
        RecipientId.by_passport("AF", "0012345679").identifier,
    }
    assert len(identifiers) == 4


def test_masked_identifier_shows_four_characters():
    assert masked_identifier("10380284790") == "*******4790"
    assert masked_identifier("AF:P01234567") == "********4567"


def _accepted(parse, value: str) -> bool:
    try:
        parse(value)
    except InvalidIdentifier:
        return False
    return True
