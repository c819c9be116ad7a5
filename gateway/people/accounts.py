"""A person's role and the scope it gives: what a signed-in person may see. Pure: the registry is passed in.

- `regulator`: every office (national), or only the offices of one province (a provincial inspector);
- `office`: the manager of one office, who sees that office only;
- `agency`: staff of one agency, who see their agency's statements;
- `operator`: one operator of one office, at that office's counter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.core.registry import Office, Registry
from gateway.core.text import normalize_persian

ROLES = ("regulator", "office", "agency", "operator")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")


class AccountInvalid(ValueError):
    """A new person whose role and scope do not fit together, or do not fit the registry."""


@dataclass(frozen=True)
class Person:
    username: str
    role: str
    display_name: str = ""
    province: str | None = None
    office_id: str | None = None
    agency_id: str | None = None
    operator_id: str | None = None

    @property
    def is_national(self) -> bool:
        return self.role == "regulator" and self.province is None

    def sees_office(self, office: Office) -> bool:
        """Whether the office's pages and data are in this person's scope."""
        if self.role == "regulator":
            return self.province is None or office.province == self.province
        if self.role in ("office", "operator"):
            return office.id == self.office_id
        return False

    def offices_seen(self, registry: Registry) -> list[Office]:
        return [office for office in registry.offices.values() if self.sees_office(office)]

    def sees_agency(self, agency_id: str) -> bool:
        return self.role == "regulator" or (self.role == "agency" and self.agency_id == agency_id)


def new_person(
    registry: Registry,
    *,
    username: str,
    role: str,
    display_name: str = "",
    province: str | None = None,
    office_id: str | None = None,
    agency_id: str | None = None,
    operator_id: str | None = None,
) -> Person:
    """The person to create, checked against the registry; AccountInvalid names what does not fit."""
    username = normalize_persian(username).strip().lower()
    if not USERNAME.fullmatch(username):
        raise AccountInvalid("the username is 3 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
    if role not in ROLES:
        raise AccountInvalid(f"the role is one of {', '.join(ROLES)}")
    province = normalize_persian(province).strip() if province else None
    wanted = {
        "province": role == "regulator" and province is not None,
        "office": role in ("office", "operator"),
        "agency": role == "agency",
        "operator": role == "operator",
    }
    given = {"province": province, "office": office_id, "agency": agency_id, "operator": operator_id}
    for name, needed in wanted.items():
        if needed and not given[name]:
            raise AccountInvalid(f"--{name} is required for the {role} role")
        if given[name] and not needed and not (name == "province" and role == "regulator"):
            raise AccountInvalid(f"--{name} does not go with the {role} role")
    if province is not None and province not in {office.province for office in registry.offices.values()}:
        raise AccountInvalid(f"no office of the registry is in the province {province!r}")
    if office_id is not None and office_id not in registry.offices:
        raise AccountInvalid(f"no office {office_id} in the registry")
    if agency_id is not None and agency_id not in registry.agencies:
        raise AccountInvalid(f"no agency {agency_id} in the registry")
    if operator_id is not None:
        operator = registry.operators.get(operator_id)
        if operator is None or operator.office_id != office_id:
            raise AccountInvalid(f"no operator {operator_id} of office {office_id} in the registry")
    return Person(username, role, display_name.strip(), province, office_id, agency_id, operator_id)
