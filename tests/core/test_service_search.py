import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.registry import Service
from gateway.core.service_search import search_services
from gateway.core.text import ZWNJ, to_persian_digits

SERVICES = [
    Service("1101", "ثبت‌نام کارت هوشمند ملی", "civil-registration"),
    Service("1102", "صدور المثنی شناسنامه", "civil-registration"),
    Service("1104", "ثبت واقعه ولادت", "civil-registration"),
    Service("2101", "صدور گذرنامه", "police"),
    Service("2102", "تعویض گواهینامه رانندگی", "police"),
    Service("3101", "ثبت‌نام بیمه اختیاری", "social-security"),
    Service("3104", "تمدید دفترچه درمان", "social-security"),
]


def codes(query: str, limit: int = 10) -> list[str]:
    return [service.code for service in search_services(SERVICES, query, limit)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1101", ["1101"]),
        ("۱۱۰۱", ["1101"]),
        ("١١٠١", ["1101"]),
        ("11", ["1101", "1102", "1104"]),
        ("کارت ملی", ["1101"]),
        ("كارت ملي", ["1101"]),  # Arabic kaf and yeh
        ("هوشمند‌ملی", ["1101"]),  # ZWNJ
        ("هوشمندملی", ["1101"]),  # no space at all
        ("ثبتنام", ["1101", "3101"]),
        ("ثبت نام", ["1101", "3101"]),
        ("ملی کارت", ["1101"]),  # words in another order
        ("گذرنامه", ["2101"]),
        ("نامه", ["1102", "2101", "2102"]),
        ("خودرو", []),
        ("9999", []),
    ],
)
def test_a_service_is_found_by_code_or_by_any_typing_of_its_name(query, expected):
    assert codes(query) == expected


def test_the_full_code_comes_before_a_name_that_holds_it_and_a_name_start_before_a_name_middle():
    services = [Service("2000", "خدمت 1101", "a"), Service("1101", "ثبت", "a"), Service("1200", "گواهی ثبت", "a")]
    assert [s.code for s in search_services(services, "1101")] == ["1101", "2000"]
    assert [s.code for s in search_services(services, "ثبت")] == ["1101", "1200"]


def test_an_empty_query_lists_every_service_in_code_order_up_to_the_limit():
    assert codes("") == sorted(s.code for s in SERVICES)
    assert codes(f" {ZWNJ} ", limit=3) == ["1101", "1102", "1104"]
    assert codes("نامه", limit=1) == ["1102"]


@given(st.sampled_from(SERVICES), st.data())
def test_any_typing_variant_of_a_name_or_code_finds_its_service(service, data):
    def variant(text: str) -> str:
        arabic = text.replace("ی", "ي").replace("ک", "ك")
        spaced = arabic.replace(ZWNJ, data.draw(st.sampled_from(["", " ", ZWNJ])))
        return to_persian_digits(spaced) if data.draw(st.booleans()) else spaced

    assert service in search_services(SERVICES, variant(service.name))
    assert search_services(SERVICES, variant(service.code))[0] == service


@given(st.text(max_size=300))
def test_any_text_is_a_query(query):
    assert len(search_services(SERVICES, query)) <= 10
