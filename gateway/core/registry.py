"""The registry: agencies, services, offices, operators, terminals and PSPs.

`parse_registry` validates a registry document (from a TOML file) as a whole and returns a `Registry` snapshot;
the same snapshot type is rebuilt from the database for the charge path. Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from gateway.core.identifiers import InvalidIdentifier, parse_iban
from gateway.core.identity import IdentityPolicy
from gateway.core.psp import PspCapabilities
from gateway.core.settlement import rows_needed
from gateway.core.text import normalize_persian

# Longest names and texts a registry may give, in characters. They bound what a receipt prints (its A5 page is
# laid out to hold the longest of each) and what a confirmation SMS carries: the office name stays in a two-part
# message beside the largest amount and an 18-digit tracking code, which leaves it 45 UTF-16 code units (a
# character outside the Basic Multilingual Plane takes two).
MAX_OFFICE_NAME_LENGTH = 45
MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 200
MAX_SHORT_TEXT_LENGTH = 64  # licence numbers, provinces, cities

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SHORT_TEXT_LENGTH)]


class RegistryError(ValueError):
    """A registry document that cannot be loaded; the message names every problem found."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _iban(value: str) -> str:
    try:
        return parse_iban(value)
    except InvalidIdentifier as exc:
        raise ValueError(exc.message) from exc


class CapabilitiesDoc(_Strict):
    verify_deadline_minutes: int = Field(gt=0, le=24 * 60)
    settle_is_separate: bool
    already_verified_codes: list[str]
    reversal_window_minutes: int = Field(gt=0)
    split_row_limit: int = Field(ge=2, le=20)


class PspDoc(_Strict):
    name: Name
    cb_licence_number: ShortText
    licence_valid_from: date
    licence_valid_to: date
    protocol: str
    endpoint: dict[str, Any]
    capabilities: CapabilitiesDoc


class AgencyDoc(_Strict):
    name: Name
    iban: str
    payment_id: str = Field(pattern=r"^[0-9]{1,30}$")
    # The agency's own Payam Iran line under 4040 and its text mask (001 art. 3); without a line, the office's.
    sms_line: str | None = Field(default=None, pattern=r"^4040[0-9]{1,10}$")
    sms_mask: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9]{1,10}$")
    _check_iban = field_validator("iban")(_iban)


class ServiceDoc(_Strict):
    name: Name
    agency: str
    identity: IdentityPolicy = IdentityPolicy.OFF


def _sms_sized(name: str) -> str:
    if len(name.encode("utf-16-le", "surrogatepass")) // 2 > MAX_OFFICE_NAME_LENGTH:
        raise ValueError(f"an office name takes at most {MAX_OFFICE_NAME_LENGTH} SMS (UTF-16) characters")
    return name


class OfficeDoc(_Strict):
    name: Annotated[str, StringConstraints(min_length=1), AfterValidator(_sms_sized)]
    kind: Literal["counter", "rural_ict"]
    licence_holder: Name
    licence_number: ShortText
    licence_valid_from: date
    licence_valid_to: date
    status: Literal["active", "suspended", "revoked"]
    address: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ADDRESS_LENGTH)]
    province: ShortText
    city: ShortText
    city_class: Literal["metropolis", "province_centre", "city_over_50k", "city", "village"]
    iban: str
    sms_line: str = Field(pattern=r"^4040[0-9]{0,10}$")
    services: list[str]
    _check_iban = field_validator("iban")(_iban)


class OperatorDoc(_Strict):
    office: str
    name: Name
    active: bool = True


class TerminalDoc(_Strict):
    merchant_id: str = Field(pattern=r"^[0-9]{15}$")
    office: str
    psp: str


class RegistryDoc(_Strict):
    psps: dict[str, PspDoc]
    agencies: dict[str, AgencyDoc]
    services: dict[str, ServiceDoc]
    offices: dict[str, OfficeDoc]
    operators: dict[str, OperatorDoc]
    terminals: dict[str, TerminalDoc]


@dataclass(frozen=True)
class Psp:
    id: str
    name: str
    cb_licence_number: str
    licence_valid_from: date
    licence_valid_to: date
    protocol: str
    endpoint: dict[str, Any]
    capabilities: PspCapabilities

    def licensed_on(self, day: date) -> bool:
        return self.licence_valid_from <= day <= self.licence_valid_to


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    iban: str
    payment_id: str
    sms_line: str | None = None
    sms_mask: str | None = None


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    agency_id: str
    identity: IdentityPolicy = IdentityPolicy.OFF  # the recipient's identity inquiry (docs/identity.md)


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    kind: str
    licence_holder: str
    licence_number: str
    licence_valid_from: date
    licence_valid_to: date
    status: str
    address: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ADDRESS_LENGTH)]
    province: ShortText
    city: ShortText
    city_class: str
    iban: str
    sms_line: str
    services: frozenset[str]

    def licence_active_on(self, day: date) -> bool:
        return self.status == "active" and self.licence_valid_from <= day <= self.licence_valid_to


@dataclass(frozen=True)
class Operator:
    id: str
    office_id: str
    name: str
    active: bool


@dataclass(frozen=True)
class Terminal:
    terminal_id: str
    merchant_id: str
    office_id: str
    psp_id: str


@dataclass(frozen=True)
class Registry:
    psps: dict[str, Psp]
    agencies: dict[str, Agency]
    services: dict[str, Service]
    offices: dict[str, Office]
    operators: dict[str, Operator]
    terminals: dict[str, Terminal]

    def to_document(self) -> dict[str, Any]:
        """The registry as plain JSON-ready data (for `registry show --json`)."""

        def caps(c: PspCapabilities) -> dict[str, Any]:
            return {
                "verify_deadline_minutes": int(c.verify_deadline.total_seconds() // 60),
                "settle_is_separate": c.settle_is_separate,
                "already_verified_codes": sorted(c.already_verified_codes),
                "reversal_window_minutes": int(c.reversal_window.total_seconds() // 60),
                "split_row_limit": c.split_row_limit,
            }

        return {
            "psps": {
                p.id: {
                    "name": p.name,
                    "cb_licence_number": p.cb_licence_number,
                    "licence_valid_from": p.licence_valid_from.isoformat(),
                    "licence_valid_to": p.licence_valid_to.isoformat(),
                    "protocol": p.protocol,
                    "endpoint": p.endpoint,
                    "capabilities": caps(p.capabilities),
                }
                for p in self.psps.values()
            },
            "agencies": {
                a.id: {
                    "name": a.name,
                    "iban": a.iban,
                    "payment_id": a.payment_id,
                    "sms_line": a.sms_line,
                    "sms_mask": a.sms_mask,
                }
                for a in self.agencies.values()
            },
            "services": {
                s.code: {"name": s.name, "agency": s.agency_id, "identity": s.identity.value}
                for s in self.services.values()
            },
            "offices": {
                o.id: {
                    "name": o.name,
                    "kind": o.kind,
                    "licence_holder": o.licence_holder,
                    "licence_number": o.licence_number,
                    "licence_valid_from": o.licence_valid_from.isoformat(),
                    "licence_valid_to": o.licence_valid_to.isoformat(),
                    "status": o.status,
                    "address": o.address,
                    "province": o.province,
                    "city": o.city,
                    "city_class": o.city_class,
                    "iban": o.iban,
                    "sms_line": o.sms_line,
                    "services": sorted(o.services),
                }
                for o in self.offices.values()
            },
            "operators": {
                op.id: {"office": op.office_id, "name": op.name, "active": op.active} for op in self.operators.values()
            },
            "terminals": {
                t.terminal_id: {"merchant_id": t.merchant_id, "office": t.office_id, "psp": t.psp_id}
                for t in self.terminals.values()
            },
        }


def capabilities_from_doc(doc: dict[str, Any]) -> PspCapabilities:
    caps = CapabilitiesDoc.model_validate(doc)
    return PspCapabilities(
        verify_deadline=timedelta(minutes=caps.verify_deadline_minutes),
        settle_is_separate=caps.settle_is_separate,
        already_verified_codes=frozenset(caps.already_verified_codes),
        reversal_window=timedelta(minutes=caps.reversal_window_minutes),
        split_row_limit=caps.split_row_limit,
    )


def parse_registry(raw: dict[str, Any]) -> Registry:
    """Validates a whole registry document: field formats, cross references and PSP row limits."""
    try:
        doc = RegistryDoc.model_validate(raw)
    except ValidationError as exc:
        summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RegistryError(f"invalid registry: {summary}") from exc
    text = normalize_persian
    registry = Registry(
        psps={
            pid: Psp(
                pid,
                text(p.name),
                p.cb_licence_number,
                p.licence_valid_from,
                p.licence_valid_to,
                p.protocol,
                dict(p.endpoint),
                capabilities_from_doc(p.capabilities.model_dump()),
            )
            for pid, p in doc.psps.items()
        },
        agencies={
            aid: Agency(aid, text(a.name), a.iban, a.payment_id, a.sms_line, a.sms_mask)
            for aid, a in doc.agencies.items()
        },
        services={code: Service(code, text(s.name), s.agency, s.identity) for code, s in doc.services.items()},
        offices={
            oid: Office(
                oid,
                text(o.name),
                o.kind,
                text(o.licence_holder),
                text(o.licence_number),
                o.licence_valid_from,
                o.licence_valid_to,
                o.status,
                text(o.address),
                text(o.province),
                text(o.city),
                o.city_class,
                o.iban,
                o.sms_line,
                frozenset(o.services),
            )
            for oid, o in doc.offices.items()
        },
        operators={opid: Operator(opid, op.office, text(op.name), op.active) for opid, op in doc.operators.items()},
        terminals={tid: Terminal(tid, t.merchant_id, t.office, t.psp) for tid, t in doc.terminals.items()},
    )
    problems = _cross_reference_problems(registry)
    if problems:
        raise RegistryError("invalid registry: " + "; ".join(problems))
    return registry


def _cross_reference_problems(reg: Registry) -> list[str]:
    problems: list[str] = []
    for code, service in reg.services.items():
        if service.agency_id not in reg.agencies:
            problems.append(f"service {code}: unknown agency {service.agency_id!r}")
    for oid, office in reg.offices.items():
        if len(oid) != 8 or not oid.isdigit():
            problems.append(f"office {oid}: the office code must be 8 digits")
        problems.extend(
            f"office {oid}: unknown service {code!r}" for code in sorted(office.services - reg.services.keys())
        )
    for opid, op in reg.operators.items():
        if op.office_id not in reg.offices:
            problems.append(f"operator {opid}: unknown office {op.office_id!r}")
    for tid, terminal in reg.terminals.items():
        if len(tid) != 8 or not tid.isdigit():
            problems.append(f"terminal {tid}: the terminal id must be 8 digits")
        if terminal.office_id not in reg.offices:
            problems.append(f"terminal {tid}: unknown office {terminal.office_id!r}")
            continue
        psp = reg.psps.get(terminal.psp_id)
        if psp is None:
            problems.append(f"terminal {tid}: unknown PSP {terminal.psp_id!r}")
            continue
        office = reg.offices[terminal.office_id]
        for code in sorted(office.services & reg.services.keys()):
            agency = reg.agencies.get(reg.services[code].agency_id)
            if agency is None:
                continue
            needed = rows_needed(agency_iban=agency.iban, agency_payment_id=agency.payment_id, office_iban=office.iban)
            if needed > psp.capabilities.split_row_limit:
                problems.append(
                    f"terminal {tid}: service {code} needs {needed} settlement rows but "
                    f"{psp.id} allows {psp.capabilities.split_row_limit}"
                )
    return problems
