import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.text import (
    _normalized,
    format_rials,
    matching_form,
    normalize_persian,
    to_ascii_digits,
    to_persian_digits,
)

ZWNJ = "\u200c"
INVISIBLE = [
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u00ad",
    "\u061c",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
]

# Text built from the characters normalisation cares about, plus anything else Unicode offers.
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(
            [
                "ي",
                "ى",
                "ك",
                "ی",
                "ک",
                "ا",
                "\u0653",
                "\u0654",
                "\u064e",
                ZWNJ,
                " ",
                "\t",
                "\n",
                "\u00a0",
                "\u2000",
                "\u2001",
                "۱",
                "٢",
                "7",
                "ب",
                "م",
                *INVISIBLE,
            ]
        ),
        st.characters(),
    ),
    max_size=40,
)


def test_to_ascii_digits_converts_persian_and_arabic_indic_digits_only():
    assert to_ascii_digits("۰۱۲۳۴۵۶۷۸۹ ٠١٢٣٤٥٦٧٨٩ abc") == "0123456789 0123456789 abc"


def test_to_persian_digits_is_for_display():
    assert to_persian_digits("tel 021-8890") == "tel ۰۲۱-۸۸۹۰"
    assert to_ascii_digits(to_persian_digits("0123456789")) == "0123456789"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("علي", "علی"),  # Arabic yeh
        ("موسى", "موسی"),  # alef maksura
        ("كاظم", "کاظم"),  # Arabic kaf
        ("پلاك ۱۲ - واحد ٣", "پلاک 12 - واحد 3"),
        ("  محمد   \t رضا \n", "محمد رضا"),
        ("\u200fمحمد\u200e\u202bرضا\u202c", "محمدرضا"),
        ("می\u200c\u200c\u200cخواهم", "می\u200cخواهم"),  # ZWNJ run collapses, the one inside the word stays
        ("\u200cکتاب\u200c ها\u200c", "کتاب ها"),  # ZWNJ at word edges goes
        ("خانه\u200c \u200cها", "خانه ها"),
        ("ا\u0653", "آ"),  # NFC
        ("ا\u200b\u0653", "آ"),  # NFC after an invisible character is removed
        ("مسي\u0654", "مسئ"),  # yeh + combining hamza is ئ, not ی + hamza
        ("\u00a0\u2003", ""),
    ],
)
def test_normalize_persian(raw, expected):
    assert normalize_persian(raw) == expected


@given(tricky_text)
def test_normalize_persian_is_idempotent(text):
    once = normalize_persian(text)
    assert normalize_persian(once) == once


@given(tricky_text)
def test_the_shortcut_for_stored_text_gives_what_normalising_gives(text):
    # Raw text, and the same text once stored: the second takes the shortcut whenever it is not ASCII.
    for candidate in (text, _normalized(text)):
        assert normalize_persian(candidate) == _normalized(candidate)


@pytest.mark.parametrize(
    "stored",
    ["دفتر پیشخوان خدمات دولت ونک", "می\u200cخواهم کتاب\u200cها را", "تهران، خیابان ونک، پلاک 12", "آ"],
)
def test_stored_text_is_given_back_as_it_is(stored):
    assert _normalized(stored) == stored
    assert normalize_persian(stored) is stored


@pytest.mark.parametrize(
    "raw",
    [
        "علي",
        "پلاک ۱۲",
        "محمد  رضا",
        "محمد\tرضا",
        " محمد",
        "محمد ",
        "کتاب\u200c ها",
        "\u200cکتاب",
        "می\u200c\u200cخواهم",
        "ا\u0653",
        "محمد\u200fرضا",
    ],
)
def test_text_that_is_not_stored_text_is_normalised(raw):
    assert normalize_persian(raw) == _normalized(raw) != raw


@given(tricky_text)
def test_normalized_text_has_no_arabic_letters_invisibles_or_loose_spacing(text):
    result = normalize_persian(text)
    assert not set(result) & {"\u064a", "\u0649", "\u0643", *INVISIBLE}
    assert not set(result) & set("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩")
    assert ZWNJ * 2 not in result
    assert result == result.strip() and not result.startswith(ZWNJ) and not result.endswith(ZWNJ)
    assert "  " not in result and all(not c.isspace() or c == " " for c in result)


@given(st.text(st.characters(max_codepoint=0x7F)))
def test_ascii_text_only_has_its_whitespace_collapsed(text):
    assert normalize_persian(text) == re.sub(r"\s+", " ", text).strip(" ")


@pytest.mark.parametrize(
    ("amount", "persian", "ascii_"),
    [
        (0, "۰", "0"),
        (999, "۹۹۹", "999"),
        (1000, "۱٬۰۰۰", "1,000"),
        (1250000, "۱٬۲۵۰٬۰۰۰", "1,250,000"),
        (-45000, "-۴۵٬۰۰۰", "-45,000"),
    ],
)
def test_format_rials(amount, persian, ascii_):
    assert format_rials(amount) == persian
    assert format_rials(amount, persian_digits=False) == ascii_


@pytest.mark.parametrize("amount", [1250000.0, True, "1250000"])
def test_format_rials_refuses_anything_but_integer_rials(amount):
    with pytest.raises(TypeError):
        format_rials(amount)


def test_matching_form_ignores_letters_digits_zwnj_and_spaces_of_the_keyboard():
    assert matching_form("كارت ملي") == matching_form("کارت‌ملی") == matching_form("کارتملی")
    assert matching_form("۱۱۰۱") == matching_form("١١٠١") == "1101"
    assert matching_form("PK-Ab") == "pk-ab"
    assert matching_form("کارت") != matching_form("کارد")
