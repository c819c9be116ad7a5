"""Who receives a service: an individual (national code), a legal person (national ID) or a foreign national
(foreign national identifier, or passport number with nationality). Each kind is validated at the edge by its own
rule (gateway/core/identifiers.py); from there on a recipient is known by one identifier string that no other
kind's identifier can equal, which is what split-charging detection keys on and what the charge stores.

| kind               | identifier                    | Iran Poosheh inbox (004 art. 3.5)  |
|--------------------|-------------------------------|------------------------------------|
| `individual`       | national code, 10 digits      | `iran<national code>`              |
| `legal_person`     | national ID, 11 digits        | `iran<national ID>`                |
| `foreign_national` | foreign national id, 12 digits| `iran<foreign national identifier>`|
| `foreign_national` | `<nationality>:<passport>`    | none                               |

Article 3.4 counts foreign nationals among the inbox's users and 3.5 addresses people by the number the civil
registry knows them by; for a foreign national that is the foreign national identifier. A foreign national known
only by passport has no inbox, so no inbox delivery is made for that charge (the SMS and the receipt still are).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.core.identifiers import (
    InvalidIdentifier,
    parse_foreign_national_id,
    parse_legal_person_id,
    parse_national_code,
)

POOSHEH_PREFIX = "iran"
_INBOX_IDENTIFIERS = {10: parse_national_code, 11: parse_legal_person_id, 12: parse_foreign_national_id}
_PASSPORT_SEPARATOR = ":"


class RecipientKind(StrEnum):
    INDIVIDUAL = "individual"
    LEGAL_PERSON = "legal_person"
    FOREIGN_NATIONAL = "foreign_national"


@dataclass(frozen=True)
class RecipientId:
    """A recipient's kind and identifier, already validated by the rule of that kind."""

    kind: RecipientKind
    identifier: str

    @classmethod
    def by_passport(cls, nationality: str, passport_number: str) -> RecipientId:
        return cls(RecipientKind.FOREIGN_NATIONAL, f"{nationality}{_PASSPORT_SEPARATOR}{passport_number}")

    @property
    def is_passport(self) -> bool:
        return _PASSPORT_SEPARATOR in self.identifier

    @property
    def national_code(self) -> str | None:
        """The national code the civil registry and Shahkar are asked about; only individuals have one."""
        return self.identifier if self.kind is RecipientKind.INDIVIDUAL else None

    def poosheh_address(self) -> str | None:
        """The recipient's Iran Poosheh inbox, or None for a foreign national known only by passport."""
        if self.is_passport:
            return None
        return POOSHEH_PREFIX + self.identifier


def parse_inbox_address(address: str) -> str:
    """An Iran Poosheh address `iran<identifier>` whose identifier is valid for its kind, or InvalidIdentifier."""
    identifier = address.removeprefix(POOSHEH_PREFIX) if address.startswith(POOSHEH_PREFIX) else ""
    parse = _INBOX_IDENTIFIERS.get(len(identifier))
    if parse is None or not identifier.isdigit():
        raise InvalidIdentifier("address", "an inbox is iran followed by a national code, national ID or foreign ID")
    return POOSHEH_PREFIX + parse(identifier)


def masked_identifier(identifier: str) -> str:
    """An identifier for logs and the regulator's findings: only its last four characters are shown."""
    return "*" * max(len(identifier) - 4, 0) + identifier[-4:]
