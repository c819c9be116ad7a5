"""Properties the issue names that the example-based tests leave open: mobile normalisation over every accepted
prefix and digit script, and the part-count formula for both SMS alphabets."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from gateway.core.identifiers import InvalidIdentifier, parse_mobile
from gateway.messaging import count_parts

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

subscribers = st.from_regex(r"9[0-9]{9}", fullmatch=True)  # 912 123 4567, without any prefix
prefixes = st.sampled_from(["0", "+98", "0098", "98", ""])
scripts = st.sampled_from([None, PERSIAN_DIGITS, ARABIC_DIGITS])


@given(
    subscriber=subscribers,
    prefix=prefixes,
    script=scripts,
    separators=st.lists(st.sampled_from([" ", "-"]), min_size=0, max_size=3),
)
def test_every_prefix_and_digit_script_gives_the_same_number(subscriber, prefix, script, separators):
    typed = prefix + subscriber
    for separator in separators:  # a space or dash somewhere after the first digit, as people type them
        cut = len(prefix) + 3
        typed = typed[:cut] + separator + typed[cut:]
    if script is not None:
        typed = typed.translate(script)
    assert parse_mobile(typed) == "0" + subscriber


@given(subscriber=subscribers, prefix=prefixes)
def test_a_normalised_number_normalises_to_itself(subscriber, prefix):
    once = parse_mobile(prefix + subscriber)
    assert parse_mobile(once) == once


@given(digits=st.from_regex(r"[0-8][0-9]{9}", fullmatch=True), prefix=prefixes)
def test_numbers_that_are_not_mobiles_are_refused(digits, prefix):
    # Iranian mobile numbers start with 9 after the country or trunk prefix; landlines and short numbers do not.
    try:
        parse_mobile(prefix + digits)
    except InvalidIdentifier as error:
        assert error.field == "mobile"
    else:
        raise AssertionError(f"{prefix + digits} was accepted as a mobile number")


persian_letters = st.text(alphabet="ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی ", min_size=0, max_size=400)
gsm_letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;!?", max_size=700)


@given(persian_letters)
def test_ucs2_text_takes_70_alone_then_67_per_part(text):
    assert count_parts(text) == (1 if len(text) <= 70 else math.ceil(len(text) / 67))


@given(gsm_letters)
def test_gsm_text_takes_160_alone_then_153_per_part(text):
    assert count_parts(text) == (1 if len(text) <= 160 else math.ceil(len(text) / 153))


@given(gsm_letters, persian_letters.filter(lambda t: t.strip()))
def test_one_persian_letter_makes_the_whole_text_ucs2(latin, persian):
    text = latin + persian
    assert count_parts(text) == (1 if len(text) <= 70 else math.ceil(len(text) / 67))


@given(st.text(max_size=300), st.text(min_size=1, max_size=50))
def test_a_longer_text_never_takes_fewer_parts(text, more):
    assert count_parts(text + more) >= count_parts(text)
