"""What the tests of this folder share besides fixtures: the control API of the two inquiry simulators, and
subjects and charge bodies with fresh identifiers."""

from __future__ import annotations

import itertools
import random

import aiohttp

from gateway.core.identifiers import complete_national_code
from gateway.core.recipients import RecipientId, RecipientKind
from gateway.identity import Subject
from tests.stack import charge_body

# A fresh range per session, so no two tests share a national code, a mobile, or a cached answer.
_serial = itertools.count(random.randrange(100_000_000, 900_000_000, 1_000_000))

BIRTH_DATE = "1370/01/15"
FIRST_NAME, LAST_NAME = "علی", "رضایی"


class InquiryControl:
    """The control API of an inquiry simulator (civil registry or Shahkar)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self.base_url = base_url

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        async with self._session.request(method, self.base_url + path, **kwargs) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()

    async def reset(self) -> None:
        await self._call("POST", "/control/reset")

    async def arm(self, **fault) -> dict:
        return await self._call("POST", "/control/faults", json=fault)

    async def calls(self) -> int:
        return (await self._call("GET", "/control/calls"))["inquiries"]

    async def add_person(self, national_code: str, *, alive: bool = True) -> None:
        person = {"national_code": national_code, "birth_date": BIRTH_DATE, "first_name": FIRST_NAME,
                  "last_name": LAST_NAME, "alive": alive}  # fmt: skip
        await self._call("POST", "/control/people", json=person)

    async def add_line(self, identification_no: str, mobile: str) -> None:
        await self._call("POST", "/control/lines", json={"identification_no": identification_no, "mobile": mobile})

    async def revoke_tokens(self) -> None:
        await self._call("POST", "/control/revoke-tokens")


def fresh_subject(name: str = f"{FIRST_NAME} {LAST_NAME}", birth_date: str | None = BIRTH_DATE) -> Subject:
    number = next(_serial)
    national_code = complete_national_code(f"{number:09d}")
    mobile = f"0912{number % 10_000_000:07d}"
    return Subject(name, RecipientId(RecipientKind.INDIVIDUAL, national_code), mobile, birth_date)


async def known_to_both(registry: InquiryControl, shahkar: InquiryControl, subject: Subject) -> None:
    """The civil registry holds the subject and Shahkar has their mobile registered to them."""
    await registry.add_person(subject.recipient.identifier)
    await shahkar.add_line(subject.recipient.identifier, subject.mobile)


def body_for(subject: Subject, service_code: str, amount: int) -> dict:
    recipient = {"name": subject.name, "national_code": subject.recipient.identifier, "mobile": subject.mobile}
    if subject.birth_date is not None:
        recipient["birth_date"] = subject.birth_date
    return charge_body(service_code=service_code, amount=amount, recipient=recipient)
