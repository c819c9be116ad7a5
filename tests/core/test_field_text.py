"""Which characters a name or code may hold once normalised."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.field_text import refused_character
from gateway.core.text import normalize_persian


def test_zwnj_inside_a_persian_name_is_allowed():
    assert refused_character(normalize_persian("علی\u200cرضا")) is None


@pytest.mark.parametrize(
    ("text", "named"),
    [("a\x00b", "U+0000"), ("\x1b@", "U+001B"), ("a\x7f", "U+007F"), ("x\u009b", "U+009B"), ("\ue000", "U+E000")],
)
def test_controls_private_use_are_refused_and_named(text, named):
    assert refused_character(normalize_persian(text)) == named


def test_direction_overrides_are_removed_by_normalisation_before_the_check():
    assert refused_character(normalize_persian("\u202eعلی")) is None


@given(st.text(st.characters(codec="utf-8")))
def test_what_is_allowed_holds_no_control_or_format_character_but_zwnj(text):
    normalised = normalize_persian(text)
    if refused_character(normalised) is None:
        assert "\x00" not in normalised
        assert all(c == "\u200c" or not (c < " " or "\x7f" <= c <= "\x9f") for c in normalised)


@given(st.text(st.characters(codec="utf-8")))
def test_the_refused_character_is_the_first_control_format_private_use_or_unassigned_one(text):
    refused = [c for c in text if unicodedata.category(c).startswith("C") and c != "\u200c"]
    assert refused_character(text) == (f"U+{ord(refused[0]):04X}" if refused else None)
