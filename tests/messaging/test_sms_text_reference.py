"""`count_parts` and `render_confirmation` against a reference: the plain algorithm that costs every character
with the gsm03.38 and UTF-16 codecs and tries every shrinking form of the confirmation in turn."""

from __future__ import annotations

from urllib.parse import quote

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.core.identifiers import make_tracking_code
from gateway.core.text import format_rials, normalize_persian
from gateway.messaging.sms_text import count_parts, render_confirmation

# --- the reference -------------------------------------------------------------------------------------------


def reference_count_parts(text: str) -> int:
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        costs, single, per_part = [len(ch.encode("utf-16-le")) // 2 for ch in text], 70, 67
    else:
        costs, single, per_part = [len(ch.encode("gsm03.38")) for ch in text], 160, 153
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def reference_render_confirmation(
    *, service_name: str, amount: int, tracking_code: str, office_name: str, verify_base_url: str
) -> str:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount must be a whole number of rials >= 0, got {amount!r}")
    tracking = normalize_persian(tracking_code)
    if not tracking:
        raise ValueError("tracking code is empty")
    service, office = normalize_persian(service_name), normalize_persian(office_name)
    link = f"{verify_base_url.rstrip('/')}/r/{quote(tracking, safe='')}"

    def compose(service: str, office: str, ending: str) -> str:
        opening = "خدمت"
        if service:
            opening += f" «{service}»"
        if office:
            opening += f" در {office}"
        return "\n".join([opening + " ارایه شد.", f"مبلغ اخذ شده: {format_rials(amount)} ریال", ending])

    def without_last_words(text: str):
        words = text.split(" ")
        for keep in range(len(words) - 1, 0, -1):
            yield " ".join(words[:keep]) + "…"

    def forms():
        line = f"شماره رهگیری: {tracking}"
        endings = [line + "\n" + link, *([link] if tracking in link else []), line]
        for ending in endings:
            yield compose(service, office, ending)
            for shorter in without_last_words(service):
                yield compose(shorter, office, ending)
            yield compose("", office, ending)
        for shorter in without_last_words(office):
            yield compose("", shorter, line)
        yield compose("", "", line)

    for text in forms():
        if reference_count_parts(text) <= 2:
            return text
    raise ValueError(f"tracking code of {len(tracking)} characters cannot fit in 2 parts")


def outcome(function, *args, **kwargs):
    """The result, or the exception raised, in a form that compares equal only for the same outcome."""
    try:
        return "returns", function(*args, **kwargs)
    except Exception as error:
        return "raises", type(error), error.args


# --- texts ---------------------------------------------------------------------------------------------------

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\x0c^{}\\[~]|€"
PERSIAN = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیآأؤئءيكة" + "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩" + "،؛؟«»٬ـ"
INVISIBLE = "\u200c\u200c\u200c\u200d\u200e\u200f\u202b\u202c\ufeff"  # ZWNJ most often
OTHER_BMP = "…ç﷼ﷲ–—“”\u00a0\u2028\uffff\ue000"  # not GSM, one code unit each
ASTRAL = "😀🙂👍🇮🇷𝔸\U00010000\U0010ffff"  # two code units each
LONE_SURROGATES = "\ud800\udbff\udc00\udfff"
ALPHABETS = [
    GSM_BASIC,
    GSM_EXTENSION,
    PERSIAN,
    PERSIAN + " " * 8 + INVISIBLE,
    OTHER_BMP,
    ASTRAL,
    GSM_BASIC + GSM_EXTENSION + PERSIAN + INVISIBLE + OTHER_BMP + ASTRAL,
]
# Around the part boundaries: 70/67 and 134 for UCS-2, 160/153 and 306 for GSM.
LENGTHS = [range(6), range(60, 76), range(130, 141), range(150, 166), range(200, 211), range(300, 311)]


@st.composite
def texts(draw, lengths=LENGTHS, rare=ALPHABETS):
    """Text mostly from one alphabet, with a few characters from another (a Persian text with one emoji, a GSM
    text with one "€") at random places."""
    length = draw(st.sampled_from(lengths).flatmap(lambda r: st.integers(r.start, r.stop - 1)))
    chars = list(draw(st.text(alphabet=draw(st.sampled_from(ALPHABETS)), min_size=length, max_size=length)))
    if chars:
        for _ in range(draw(st.integers(0, 3))):
            chars[draw(st.integers(0, length - 1))] = draw(st.sampled_from(draw(st.sampled_from(rare))))
    return "".join(chars)


# --- count_parts ---------------------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(texts(rare=[*ALPHABETS, LONE_SURROGATES]))
@example("س" * 66 + "😀" + "س" * 66)
@example("a" * 152 + "€" + "a" * 152)
@example("a" * 153 + "€" + "a" * 152)
@example("\ud800")
def test_count_parts_matches_the_reference(text):
    assert outcome(count_parts, text) == outcome(reference_count_parts, text)


@pytest.mark.parametrize("length", [*range(130, 141), *range(198, 204)])
def test_an_emoji_anywhere_in_a_persian_text_matches_the_reference(length):
    for at in range(length):
        text = "س" * at + "😀" + "س" * (length - at - 1)
        assert count_parts(text) == reference_count_parts(text), at


@pytest.mark.parametrize("length", [*range(159, 163), *range(304, 309)])
def test_an_escaped_character_near_a_gsm_part_boundary_matches_the_reference(length):
    for at in [*range(150, 156), *range(length - 4, length)]:
        text = "a" * at + "€" + "a" * (length - at - 1)
        assert count_parts(text) == reference_count_parts(text), at


def test_every_bmp_character_counts_as_its_gsm_encoding_says():
    # 159 one-septet characters and this one: one part if it takes a septet, two if it takes an escape and
    # a septet, and UCS-2 (160 code units, three parts) if the codec cannot encode it.
    parts_by_septets = {1: 1, 2: 2}
    for code in range(0x10000):
        ch = chr(code)
        try:
            expected = parts_by_septets[len(ch.encode("gsm03.38"))]
        except UnicodeEncodeError:
            expected = 3 if not 0xD800 <= code <= 0xDFFF else None
        if expected is None:
            with pytest.raises(UnicodeEncodeError):
                count_parts(ch + "a" * 159)
        else:
            assert count_parts(ch + "a" * 159) == expected, hex(code)


@given(st.text(max_size=400))
def test_any_text_matches_the_reference(text):
    assert count_parts(text) == reference_count_parts(text)


# --- render_confirmation -------------------------------------------------------------------------------------

NAME_LENGTHS = [range(12), range(12, 40), range(60, 76), range(130, 141)]
names = texts(lengths=NAME_LENGTHS)
trackings = st.one_of(
    st.builds(make_tracking_code, st.from_regex(r"[0-9]{8}", fullmatch=True), st.integers(1, 999_999_999)),
    texts(lengths=[range(1, 21)]),
    st.text(min_size=1, max_size=40),
)
bases = st.sampled_from(
    [
        "https://pishkhan.example",
        "https://pk.ir/",
        "https://" + "verify." * 12 + "example",
        "https://verify.example/" + "p" * 60,
        "",
        "https://پیشخوان.ایران",
    ]
)


@settings(max_examples=500, deadline=None)
@given(service=names, office=names, amount=st.integers(min_value=0, max_value=10**13), tracking=trackings, base=bases)
@example(
    service="تعویض گواهینامه رانندگی",
    office="دفتر پیشخوان خدمات دولت شهرک قدس ۲",
    amount=1_250_000,
    tracking="111100010000012349",
    base="https://pishkhan.example",
)
@example(service="ثبت" + " \u200c" * 30 + "نام", office="", amount=0, tracking="1", base="https://pk.ir")
@example(
    service="گواهی 😀" * 12,
    office="تهران",
    amount=90_000,
    tracking="111100010000012349",
    base="https://pishkhan.example",
)
@example(service="صدور گذرنامه", office="ونک", amount=1, tracking="1" * 60, base="https://pk.ir")
def test_render_confirmation_matches_the_reference(service, office, amount, tracking, base):
    arguments = {
        "service_name": service,
        "amount": amount,
        "tracking_code": tracking,
        "office_name": office,
        "verify_base_url": base,
    }
    assert outcome(render_confirmation, **arguments) == outcome(reference_render_confirmation, **arguments)


@settings(max_examples=200, deadline=None)
@given(service=names, office=texts(lengths=NAME_LENGTHS, rare=[LONE_SURROGATES]), tracking=trackings)
def test_render_confirmation_with_a_lone_surrogate_matches_the_reference(service, office, tracking):
    arguments = {
        "service_name": service,
        "amount": 1_250_000,
        "tracking_code": tracking,
        "office_name": office,
        "verify_base_url": "https://pishkhan.example",
    }
    assert outcome(render_confirmation, **arguments) == outcome(reference_render_confirmation, **arguments)
