"""The office's tariff sheet: the services assigned to it, priced by the approval in force at the moment asked,
with its office kind's caps; a later approval takes over the day it takes effect."""

from __future__ import annotations

import copy
import tomllib
from datetime import datetime, timedelta

import pytest

from gateway.core.jalali import day_start_utc, parse_jalali_date
from gateway.core.registry import parse_registry
from gateway.core.tariff_sheet import tariff_sheet
from gateway.core.tariffs import SOURCE_KEY, TariffBook
from gateway.platform.config import PROJECT_ROOT

TARIFF_DIR = PROJECT_ROOT / "tariff_tables"


@pytest.fixture(scope="module")
def registry(demo_registry):
    return parse_registry(demo_registry)


def _documents() -> list[dict]:
    documents = []
    for path in sorted(TARIFF_DIR.glob("*.toml")):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        document[SOURCE_KEY] = path.name
        documents.append(document)
    return documents


@pytest.fixture(scope="module")
def book_with_a_later_approval() -> TariffBook:
    """The sample tables, with 1403's approval ended on 1405/12/29 and a new one in force from 1406/01/01 that
    raises service 1101's office fee cap."""
    documents = _documents()
    current = next(d for d in documents if d["approval"]["reference"] == "CRA-COM-1402-07")
    current["approval"]["effective_to"] = "1405/12/29"
    later = copy.deepcopy(current)
    later["approval"].update(reference="CRA-COM-1405-11", approved_on="1405/12/01", effective_from="1406/01/01")
    del later["approval"]["effective_to"]
    later["services"]["1101"]["office_fee_cap"] = 420_000
    later[SOURCE_KEY] = "1406-test.toml"
    return TariffBook.from_documents([*documents, later])


def _at(jalali_day: str, hours: float = 0) -> datetime:
    return day_start_utc(parse_jalali_date(jalali_day)) + timedelta(hours=hours)


def test_every_assigned_service_is_priced_by_the_approval_in_force(registry):
    book = TariffBook.from_documents(_documents())
    sheet = tariff_sheet(registry, book, "21110002", _at("1405/09/15", 10))

    assert [row.service_code for row in sheet.rows] == ["1101", "1102", "2101", "2102", "3101", "3102"]
    first = sheet.rows[0]
    assert (first.approval_reference, first.government_share, first.office_fee_cap) == (
        "CRA-COM-1402-07",
        350_000,
        350_000,
    )
    assert first.total_cap == 700_000
    assert {extra.name: extra.unit_cap for extra in first.extras}["اسکن هر صفحه"] == 30_000
    assert [a.reference for a in sheet.approvals] == ["CRA-COM-1402-07"]
    assert sheet.approvals[0].effective_from == "1403/01/01" and sheet.day == "1405/09/15"


def test_a_rural_office_gets_its_kinds_caps(registry):
    sheet = tariff_sheet(registry, TariffBook.from_documents(_documents()), "51110005", _at("1405/09/15", 10))
    assert next(row for row in sheet.rows if row.service_code == "1101").office_fee_cap == 210_000


def test_the_sheet_changes_the_day_a_later_approval_takes_effect(registry, book_with_a_later_approval):
    last_evening = tariff_sheet(registry, book_with_a_later_approval, "11110001", _at("1405/12/29", 23.9))
    next_morning = tariff_sheet(registry, book_with_a_later_approval, "11110001", _at("1406/01/01", 0))

    def row_1101(sheet):
        return next(row for row in sheet.rows if row.service_code == "1101")

    assert (row_1101(last_evening).approval_reference, row_1101(last_evening).office_fee_cap) == (
        "CRA-COM-1402-07",
        350_000,
    )
    assert (row_1101(next_morning).approval_reference, row_1101(next_morning).office_fee_cap) == (
        "CRA-COM-1405-11",
        420_000,
    )
    assert [a.reference for a in next_morning.approvals] == ["CRA-COM-1405-11"]
    assert next_morning.approvals[0].effective_from == "1406/01/01"


def test_a_service_no_approval_prices_is_listed_as_not_chargeable(registry):
    sheet = tariff_sheet(registry, TariffBook.from_documents(_documents()), "11110001", _at("1390/01/01"))
    assert sheet.approvals == () and all(row.approval_reference is None for row in sheet.rows)


def test_an_unknown_office_is_a_key_error(registry):
    with pytest.raises(KeyError):
        tariff_sheet(registry, TariffBook.from_documents(_documents()), "99999999", _at("1405/09/15"))
