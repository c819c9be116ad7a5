"""The quote an office sees before a charge: its own services only, priced like the charge would be."""

import tomllib
from datetime import UTC, datetime

import pytest

from gateway.core.charge_rules import quote_for_office
from gateway.core.errors import ServiceNotAssigned, UnknownExtra
from gateway.core.registry import parse_registry
from gateway.core.tariffs import TariffBook
from gateway.platform.config import PROJECT_ROOT
from gateway.registry.tariff_files import load_tariff_documents

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
TEHRAN_COUNTER, RURAL = "11110001", "51110005"


@pytest.fixture(scope="module")
def registry():
    return parse_registry(tomllib.loads((PROJECT_ROOT / "gateway/registry/demo.toml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def tariffs():
    return TariffBook.from_documents(load_tariff_documents(PROJECT_ROOT / "tariff_tables"))


def test_the_quote_adds_the_extras_and_uses_the_office_kind(registry, tariffs):
    plain = quote_for_office(registry, tariffs, TEHRAN_COUNTER, "1101", 1, [], NOW)
    with_extras = quote_for_office(registry, tariffs, TEHRAN_COUNTER, "1101", 1, [("scan_page", 3)], NOW)
    assert with_extras.cap == plain.cap + 3 * with_extras.extras[0].unit_cap
    rural = quote_for_office(registry, tariffs, RURAL, "1101", 1, [], NOW)
    assert rural.office_fee_cap < plain.office_fee_cap


def test_a_service_the_office_does_not_offer_and_an_unknown_extra_are_refused_with_their_field(registry, tariffs):
    with pytest.raises(ServiceNotAssigned) as refused:
        quote_for_office(registry, tariffs, RURAL, "2101", 1, [], NOW)
    assert refused.value.param == "service_code"
    with pytest.raises(UnknownExtra) as unknown:
        quote_for_office(registry, tariffs, TEHRAN_COUNTER, "1104", 1, [("photo", 1)], NOW)
    assert unknown.value.param == "extras"
