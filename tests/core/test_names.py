"""The name comparison: the same name in any spelling a keyboard or database gives matches; another name never."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.names import name_key, names_match
from gateway.core.text import ZWNJ

# Letters that are never rewritten into one another (no yeh/kaf/heh/alef variants among them).
_PLAIN_LETTERS = "بپتثجچحخدذرزژسشصضطظعغفقگلمنو"
_words = st.lists(st.text(alphabet=_PLAIN_LETTERS + "یکهاآ", min_size=1, max_size=8), min_size=1, max_size=4)

# Each Persian letter with the spellings of it a keyboard or database produces.
_VARIANTS = {"ی": "يى", "ک": "ك", "ه": "ةۀ", "ا": "أإ"}
_BREAKS = st.sampled_from(["", " ", ZWNJ, "  ", f" {ZWNJ}"])


@st.composite
def respelled(draw, words: list[str]) -> str:
    """`words` as someone else might have typed them: letter variants, diacritics, other word breaks."""
    parts = []
    for word in words:
        letters = []
        for letter in word:
            variants = _VARIANTS.get(letter, "")
            letters.append(draw(st.sampled_from(letter + variants)) if variants else letter)
            if draw(st.booleans()):
                letters.append(draw(st.sampled_from(["\u064e", "\u0650", "\u064f", "\u0651", "\u0640"])))
        parts.append("".join(letters))
    breaks = [draw(_BREAKS) for _ in parts[1:]]
    return "".join(part + gap for part, gap in zip(parts, [*breaks, ""], strict=True))


@given(st.data(), _words)
def test_every_spelling_of_a_name_matches_it(data, words):
    registered = " ".join(words)
    assert names_match(data.draw(respelled(words)), registered)


@given(st.data(), _words)
def test_matching_is_symmetric(data, words):
    typed = data.draw(respelled(words))
    registered = data.draw(respelled(words))
    assert names_match(typed, registered) == names_match(registered, typed) is True


@given(_words, st.integers(min_value=0), st.sampled_from(_PLAIN_LETTERS))
def test_another_letter_is_another_name(words, position, letter):
    name = "".join(words)
    index = position % len(name)
    changed = name[:index] + letter + name[index + 1 :]
    if name[index] != letter:
        assert not names_match(changed, name)


@given(_words, st.sampled_from(_PLAIN_LETTERS))
def test_a_letter_more_is_another_name(words, letter):
    name = " ".join(words)
    assert not names_match(name + letter, name)


@given(st.text(max_size=30))
def test_the_key_is_idempotent(text):
    assert name_key(name_key(text)) == name_key(text)


@pytest.mark.parametrize(
    ("typed", "registered"),
    [
        ("علي رضائي", "علی رضائی"),
        ("كاظم", "کاظم"),
        ("فاطمة", "فاطمه"),
        ("عبدالله", "عبد الله"),
        ("عبد\u200cالله", "عبدالله"),
        ("  مهدی   کریمی ", "مهدی کریمی"),
        ("مُحَمَّد", "محمد"),
        ("أحمد", "احمد"),
    ],
)
def test_known_variants_match(typed, registered):
    assert names_match(typed, registered)


@pytest.mark.parametrize(
    ("typed", "registered"),
    [("علی رضایی", "علی رضائی"), ("محمد", "احمد"), ("", ""), (" ", "\u200c"), ("مریم", "مریم احمدی")],
)
def test_different_names_do_not_match(typed, registered):
    assert not names_match(typed, registered)
