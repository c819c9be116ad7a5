"""The registry's length limits: what it accepts is what a receipt page and a two-part SMS can hold."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

import gateway.registry
from gateway.core.registry import (
    MAX_ADDRESS_LENGTH,
    MAX_NAME_LENGTH,
    MAX_OFFICE_NAME_LENGTH,
    MAX_SHORT_TEXT_LENGTH,
    RegistryError,
    parse_registry,
)

DEMO = tomllib.loads((Path(gateway.registry.__file__).parent / "demo.toml").read_text(encoding="utf-8"))
OFFICE, SERVICE, OPERATOR = "11110001", "1101", "op-11"


def _with(path: tuple[str, ...], value: str) -> dict:
    document = copy.deepcopy(DEMO)
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    return document


LIMITS = [
    (("offices", OFFICE, "name"), MAX_OFFICE_NAME_LENGTH),
    (("offices", OFFICE, "address"), MAX_ADDRESS_LENGTH),
    (("offices", OFFICE, "licence_holder"), MAX_NAME_LENGTH),
    (("offices", OFFICE, "licence_number"), MAX_SHORT_TEXT_LENGTH),
    (("offices", OFFICE, "city"), MAX_SHORT_TEXT_LENGTH),
    (("services", SERVICE, "name"), MAX_NAME_LENGTH),
    (("operators", OPERATOR, "name"), MAX_NAME_LENGTH),
    (("agencies", "police", "name"), MAX_NAME_LENGTH),
]


@pytest.mark.parametrize(("path", "limit"), LIMITS)
def test_the_longest_text_is_accepted_and_one_more_character_refused(path, limit):
    assert parse_registry(_with(path, "ن" * limit))
    with pytest.raises(RegistryError, match=path[-1]):
        parse_registry(_with(path, "ن" * (limit + 1)))


def test_an_office_name_is_measured_in_sms_characters():
    # A character outside the Basic Multilingual Plane takes two UTF-16 code units in an SMS.
    assert parse_registry(_with(("offices", OFFICE, "name"), "𐀀" * (MAX_OFFICE_NAME_LENGTH // 2)))
    with pytest.raises(RegistryError, match="SMS"):
        parse_registry(_with(("offices", OFFICE, "name"), "𐀀" * (MAX_OFFICE_NAME_LENGTH // 2 + 1)))


@pytest.mark.parametrize("path", [path for path, _ in LIMITS])
def test_an_empty_text_is_refused(path):
    with pytest.raises(RegistryError):
        parse_registry(_with(path, ""))
