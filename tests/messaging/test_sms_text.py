from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gateway.registry
from gateway.core.identifiers import make_tracking_code
from gateway.core.registry import MAX_NAME_LENGTH, MAX_OFFICE_NAME_LENGTH
from gateway.core.text import normalize_persian
from gateway.messaging.sms_text import MAX_PARTS, count_parts, render_cancellation, render_confirmation, verify_link
from gateway.web.schemas import MAX_AMOUNT

BASE = "https://pishkhan.example"
TRACKING = make_tracking_code("10203040", 1234)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),  # € is an escaped GSM character: two septets
        ("س" * 70, 1),
        ("س" * 71, 2),
        ("س" * 134, 2),
        ("س" * 135, 3),
        ("a" * 69 + "س", 1),
        ("a" * 70 + "س", 2),  # one Persian letter makes the whole text UCS-2
        ("😀" * 35, 1),
        ("😀" * 36, 2),  # outside the BMP: two UTF-16 code units each
    ],
)
def test_count_parts_by_alphabet(text, parts):
    assert count_parts(text) == parts


def test_a_character_is_never_split_across_parts():
    # 134 code units fit two parts only if the surrogate pair could straddle the boundary.
    assert count_parts("س" * 66 + "😀" + "س" * 66) == 3
    # 306 septets likewise, with the escape pair of € at the boundary.
    assert count_parts("a" * 152 + "€" + "a" * 152) == 3


def test_short_confirmation_carries_every_piece():
    text = render_confirmation(
        service_name="ثبت نام",
        amount=1_250_000,
        tracking_code="1403123",
        office_name="دفتر ۱۲۳",
        verify_base_url="https://pk.ir/",
    )
    assert text == (
        "خدمت «ثبت نام» در دفتر 123 ارایه شد.\n"
        "مبلغ اخذ شده: ۱٬۲۵۰٬۰۰۰ ریال\n"
        "شماره رهگیری: 1403123\n"
        "https://pk.ir/r/1403123"
    )
    assert count_parts(text) == 2


def test_the_office_name_stays_and_the_link_shows_the_tracking_code():
    text = render_confirmation(
        service_name="ثبت نام",
        amount=90_000,
        tracking_code=TRACKING,
        office_name="دفتر پیشخوان خدمات دولت شماره ۱۲۳۴۵ ونک",
        verify_base_url=BASE,
    )
    assert "در دفتر پیشخوان خدمات دولت شماره 12345 ونک ارایه شد." in text.splitlines()[0]
    assert text.endswith(f"\n{BASE}/r/{TRACKING}")  # the receipt page, whose link carries the tracking code
    assert count_parts(text) <= MAX_PARTS


def test_a_long_service_name_loses_whole_words_only():
    service = "صدور گواهینامه رانندگی پایه یک برای متقاضیان دارای گواهینامه پایه دو"
    text = render_confirmation(
        service_name=service, amount=1_250_000, tracking_code=TRACKING, office_name="دفتر تهران", verify_base_url=BASE
    )
    shown = text.split("«", 1)[1].split("»", 1)[0]
    assert shown.endswith("…") and len(shown) > 5
    assert service.startswith(shown[:-1] + " ")  # cut at a space, never inside a word
    assert "» در دفتر تهران ارایه شد." in text
    assert TRACKING in text and "۱٬۲۵۰٬۰۰۰ ریال" in text
    assert count_parts(text) == MAX_PARTS


def test_a_single_word_too_long_to_fit_goes_whole():
    text = render_confirmation(
        service_name="ن" * 120, amount=5_000, tracking_code=TRACKING, office_name="دفتر تهران", verify_base_url=BASE
    )
    assert text.splitlines()[0] == "خدمت در دفتر تهران ارایه شد."
    assert count_parts(text) <= MAX_PARTS


@pytest.mark.parametrize("amount", [-1, 1.5, True, "100"])
def test_amount_must_be_whole_rials(amount):
    with pytest.raises(ValueError):
        render_confirmation(
            service_name="x", amount=amount, tracking_code=TRACKING, office_name="y", verify_base_url=BASE
        )


def test_tracking_code_is_required():
    with pytest.raises(ValueError):
        render_confirmation(service_name="x", amount=1, tracking_code=" \u200e", office_name="y", verify_base_url=BASE)


def test_verify_link_is_base_slash_r_slash_tracking():
    assert verify_link("https://pk.ir/", TRACKING) == f"https://pk.ir/r/{TRACKING}"
    assert verify_link("https://pk.ir", "a/b c") == "https://pk.ir/r/a%2Fb%20c"


names = st.text(max_size=200)
amounts = st.integers(min_value=0, max_value=10**13)


@settings(max_examples=300, deadline=None)
@given(
    service=names,
    office=names,
    amount=amounts,
    tracking=st.text(min_size=1, max_size=20).filter(lambda t: normalize_persian(t) != ""),
)
def test_any_confirmation_fits_two_parts_with_amount_and_tracking(service, office, amount, tracking):
    text = render_confirmation(
        service_name=service, amount=amount, tracking_code=tracking, office_name=office, verify_base_url=BASE
    )
    assert count_parts(text) <= MAX_PARTS
    assert f"مبلغ اخذ شده: {amount:,}".translate(str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")) in text
    assert normalize_persian(tracking) in text  # on its own line, or in the link that stands in for it


# Words of any letters a TOML registry can hold (no lone surrogates), separated by single spaces.
words = st.lists(
    st.text(alphabet=st.characters(exclude_characters=" ", exclude_categories=["Cs"]), min_size=1, max_size=12),
    min_size=1,
)
office_names = words.map(" ".join).filter(
    lambda name: 0 < len(normalize_persian(name).encode("utf-16-le")) // 2 <= MAX_OFFICE_NAME_LENGTH
)


def _shown_service(text: str, office: str) -> str:
    """The service name as the opening line shows it (empty when it shows none)."""
    opening, ending = text.splitlines()[0], f" در {normalize_persian(office)} ارایه شد."
    assert opening.endswith(ending)
    named = opening.removesuffix(ending).removeprefix("خدمت")
    return named.removeprefix(" «").removesuffix("»")


@settings(max_examples=300, deadline=None)
@given(
    service=words.map(" ".join),
    office=office_names,
    amount=st.integers(min_value=0, max_value=MAX_AMOUNT),
    office_code=st.from_regex(r"[0-9]{8}", fullmatch=True),
    seq=st.integers(1, 999_999_999),
)
def test_office_names_the_registry_accepts_always_stay_whole(service, office, amount, office_code, seq):
    tracking = make_tracking_code(office_code, seq)
    text = render_confirmation(
        service_name=service, amount=amount, tracking_code=tracking, office_name=office, verify_base_url=BASE
    )
    assert count_parts(text) <= MAX_PARTS
    assert f"\nشماره رهگیری: {tracking}" in text or f"/r/{tracking}" in text
    shown, whole = _shown_service(text, office), normalize_persian(service)
    assert shown in ("", whole) or (shown.endswith("…") and whole.startswith(shown[:-1] + " "))


DEMO = tomllib.loads((Path(gateway.registry.__file__).parent / "demo.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("service_code", sorted(DEMO["services"]))
@pytest.mark.parametrize("office_code", sorted(DEMO["offices"]))
@pytest.mark.parametrize("amount", [700_000, MAX_AMOUNT])
def test_every_demo_service_in_every_demo_office(service_code, office_code, amount):
    service, office = DEMO["services"][service_code]["name"], DEMO["offices"][office_code]["name"]
    tracking = make_tracking_code(office_code, 999_999_999)
    text = render_confirmation(
        service_name=service,
        amount=amount,
        tracking_code=tracking,
        office_name=office,
        verify_base_url="http://127.0.0.1:8080",
    )
    assert count_parts(text) <= MAX_PARTS
    assert f" در {normalize_persian(office)} ارایه شد." in text
    shown, whole = _shown_service(text, office), normalize_persian(service)
    assert shown in ("", whole) or whole.startswith(shown[:-1] + " ")
    if shown != whole:  # words give way only when the whole name does not fit beside the office name
        opening = text.splitlines()[0]
        whole_opening = f"خدمت «{whole}» در {normalize_persian(office)} ارایه شد."
        assert count_parts(text.replace(opening, whole_opening)) > MAX_PARTS


def test_the_longest_names_the_registry_accepts():
    office = " ".join(["دفتر"] * 20)[:MAX_OFFICE_NAME_LENGTH].strip()
    service = " ".join(["گواهینامه"] * 40)[:MAX_NAME_LENGTH].strip()
    tracking = make_tracking_code("99999999", 999_999_999)
    text = render_confirmation(
        service_name=service, amount=MAX_AMOUNT, tracking_code=tracking, office_name=office, verify_base_url=BASE
    )
    assert count_parts(text) <= MAX_PARTS
    assert f" در {office} ارایه شد." in text and tracking in text
    assert all(word in ("گواهینامه", "گواهینامه…") for word in _shown_service(text, office).split(" ") if word)


def test_the_cancellation_sms_names_both_receipts_and_the_amount_returned_within_two_parts():
    text = render_cancellation(
        cancelled_tracking_code="102030400000000012",
        amount=1_250_000,
        tracking_code="102030400000000029",
        verify_base_url="https://pishkhan.example.ir",
    )
    assert "102030400000000012" in text and "102030400000000029" in text and "۱٬۲۵۰٬۰۰۰ ریال" in text
    assert count_parts(text) <= MAX_PARTS
    short_link = render_cancellation(
        cancelled_tracking_code="102030400000000012", amount=1, tracking_code="102030400000000029", verify_base_url="h:"
    )
    assert short_link.endswith("h:/r/102030400000000029")
    with pytest.raises(ValueError):
        render_cancellation(cancelled_tracking_code="1", amount=0, tracking_code="2", verify_base_url="h:")


def test_a_refund_s_sms_says_the_money_comes_back_with_the_next_settlement():
    reversal, refund = (
        render_cancellation(
            cancelled_tracking_code="102030400000000012",
            amount=1_250_000,
            tracking_code="102030400000000029",
            verify_base_url="https://pishkhan.example.ir",
            by_refund=by_refund,
        )
        for by_refund in (False, True)
    )
    assert "مسترد شده" in reversal and "تسویه" not in reversal
    assert "۱٬۲۵۰٬۰۰۰ ریال با تسویه بعدی به کارت مسترد می‌شود" in refund and "مسترد شده" not in refund
    assert count_parts(refund) <= MAX_PARTS
