"""What only the civil registry's inquiry judges: the name (up to spelling variants), the birth date, death; its
client-credentials token; and that it says nothing about recipients it does not register."""

from __future__ import annotations

import dataclasses

from gateway.core.identity import Verdict
from gateway.core.recipients import RecipientId, RecipientKind
from gateway.identity import CivilRegistryInquiry
from tests.identity.support import fresh_subject


async def test_the_name_is_compared_up_to_spelling_variants(civil_registry_adapter, registry):
    subject = dataclasses.replace(fresh_subject(), name="علي  رضايي")
    await registry.add_person(subject.recipient.identifier)
    assert (await civil_registry_adapter.inquire(subject)).verdict is Verdict.MATCHED


async def test_another_name_a_wrong_birth_date_and_a_death_are_mismatches(civil_registry_adapter, registry):
    subject = fresh_subject()
    await registry.add_person(subject.recipient.identifier)
    other_name = await civil_registry_adapter.inquire(dataclasses.replace(subject, name="علی رضائی"))
    wrong_date = await civil_registry_adapter.inquire(dataclasses.replace(subject, birth_date="1370/01/16"))
    assert (other_name.verdict, other_name.reason) == (Verdict.MISMATCHED, "name")
    assert (wrong_date.verdict, wrong_date.reason) == (Verdict.MISMATCHED, "birth_date")

    deceased = fresh_subject()
    await registry.add_person(deceased.recipient.identifier, alive=False)
    result = await civil_registry_adapter.inquire(deceased)
    assert (result.verdict, result.reason) == (Verdict.MISMATCHED, "deceased")


async def test_a_revoked_token_is_replaced_once(civil_registry_adapter, registry):
    subject = fresh_subject()
    await registry.add_person(subject.recipient.identifier)
    assert (await civil_registry_adapter.inquire(subject)).verdict is Verdict.MATCHED
    await registry.revoke_tokens()
    assert (await civil_registry_adapter.inquire(subject)).verdict is Verdict.MATCHED


async def test_wrong_client_credentials_are_unavailable_not_a_mismatch(civil_registry_url, registry):
    adapter = CivilRegistryInquiry(civil_registry_url, "pishkhan", "wrong secret", 0.5)
    try:
        assert (await adapter.inquire(fresh_subject())).verdict is Verdict.UNAVAILABLE
    finally:
        await adapter.close()
    assert await registry.calls() == 0


def test_only_individuals_are_asked(civil_registry_adapter, shahkar_adapter):
    subject = fresh_subject()
    company = dataclasses.replace(subject, recipient=RecipientId(RecipientKind.LEGAL_PERSON, "10380284790"))
    assert civil_registry_adapter.applies_to(subject) and not civil_registry_adapter.applies_to(company)
    assert shahkar_adapter.applies_to(company)


async def test_shahkar_knows_a_passport_holders_line(shahkar_adapter, shahkar):
    subject = dataclasses.replace(fresh_subject(), recipient=RecipientId.by_passport("AF", "P01234567"))
    await shahkar.add_line("AF:P01234567", subject.mobile)
    assert (await shahkar_adapter.inquire(subject)).verdict is Verdict.MATCHED
    other_country = dataclasses.replace(subject, recipient=RecipientId.by_passport("IQ", "P01234567"))
    assert (await shahkar_adapter.inquire(other_country)).verdict is Verdict.MISMATCHED
