"""Roles and scope: who sees which office and agency, and which accounts fit the registry."""

from __future__ import annotations

import tomllib

import pytest

from gateway.core.registry import parse_registry
from gateway.people.accounts import AccountInvalid, new_person
from tests.stack import DEMO_REGISTRY

REGISTRY = parse_registry(tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8")))


def seen(person) -> set[str]:
    return {office.id for office in person.offices_seen(REGISTRY)}


def test_a_national_regulator_sees_every_office_and_a_provincial_inspector_only_their_province():
    national = new_person(REGISTRY, username="national", role="regulator")
    isfahan = new_person(REGISTRY, username="isfahan", role="regulator", province="اصفهان")
    assert national.is_national and seen(national) == set(REGISTRY.offices)
    assert not isfahan.is_national
    assert seen(isfahan) == {"31110003", "41110004", "51110005"}


def test_an_office_manager_and_an_operator_see_only_their_office_and_an_agency_user_no_office():
    manager = new_person(REGISTRY, username="manager", role="office", office_id="11110001")
    operator = new_person(REGISTRY, username="clerk", role="operator", office_id="11110001", operator_id="op-12")
    agency = new_person(REGISTRY, username="registrar", role="agency", agency_id="police")
    assert seen(manager) == seen(operator) == {"11110001"}
    assert seen(agency) == set()
    assert agency.sees_agency("police") and not agency.sees_agency("civil-registration")
    assert not manager.sees_agency("police")


def test_persian_letters_of_a_province_are_normalised():
    assert new_person(REGISTRY, username="tehran", role="regulator", province="تهران ").province == "تهران"


@pytest.mark.parametrize(
    ("account", "problem"),
    [
        ({"role": "office"}, "--office is required"),
        ({"role": "regulator", "office_id": "11110001"}, "--office does not go"),
        ({"role": "office", "office_id": "11110001", "province": "تهران"}, "--province does not go"),
        ({"role": "office", "office_id": "99999999"}, "no office 99999999"),
        ({"role": "operator", "office_id": "11110001"}, "--operator is required"),
        ({"role": "operator", "office_id": "11110001", "operator_id": "op-21"}, "no operator op-21 of office"),
        ({"role": "agency", "agency_id": "nobody"}, "no agency nobody"),
        ({"role": "regulator", "province": "آتلانتیس"}, "no office of the registry is in the province"),
        ({"role": "superuser"}, "the role is one of"),
        ({"role": "regulator", "username": "A b"}, "the username is"),
    ],
)
def test_accounts_that_do_not_fit_their_role_or_the_registry_are_refused(account, problem):
    with pytest.raises(AccountInvalid, match=problem):
        new_person(REGISTRY, **{"username": "someone", **account})
