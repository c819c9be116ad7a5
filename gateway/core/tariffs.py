"""The approved tariff tables and the engine that prices a charge against them.

An approval (مصوبه) of the regulator's commission sets, per service, the government fee
(fixed, collected in full for the agency) and the caps (سقف تعرفه) on what the office may add:
its own fee and priced extras such as scanned pages. Each approval is one TOML document
(tariff_tables/*.toml) validated by `TariffDocument`; a `TariffBook` holds them all and answers
"what may be collected for this service at this moment". Nothing here touches files or clocks:
the documents and the moment are always passed in.
"""

from __future__ import annotations

import bisect
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import jdatetime
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from gateway.core.errors import (
    BelowGovernmentFee,
    DuplicateExtra,
    ExcessFee,
    InvalidAmount,
    InvalidQuantity,
    NoTariff,
    UnknownExtra,
    UnknownOfficeKind,
)
from gateway.core.jalali import (
    day_start_utc,
    format_jalali_date,
    format_utc,
    parse_jalali_date,
    require_aware,
)
from gateway.core.text import normalize_persian

SOURCE_KEY = "_source"  # where a document came from; set by the file loader, used in error messages
# The approving body's detached signature of a document, carried beside it for publication (checked by the loader).
SIGNATURE_KEY = "_signature"
MAX_QUANTITY = 1000  # most units of a service, or of one extra, in one charge
MAX_UNIT_AMOUNT = 10**10  # rials; a larger per-unit figure in a table is a typing mistake


class OfficeKind(enum.StrEnum):
    COUNTER = "counter"  # دفتر پیشخوان خدمات دولت
    RURAL_ICT = "rural_ict"  # دفتر ارتباطات و فناوری اطلاعات روستایی


# ---------------------------------------------------------------- the document (one approval)


def _check_jalali_date(text: str) -> str:
    parse_jalali_date(text)
    return text


JalaliDate = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}/[0-9]{2}/[0-9]{2}$"),
    AfterValidator(_check_jalali_date),
    Field(description="Jalali calendar day, YYYY/MM/DD"),
]
PersianText = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(normalize_persian)]
ServiceCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
ExtraCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Fee = Annotated[int, Field(strict=True, ge=0, le=MAX_UNIT_AMOUNT, description="rials per unit")]
PositiveCap = Annotated[int, Field(strict=True, gt=0, le=MAX_UNIT_AMOUNT, description="rials per unit")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# pydantic renders a dict with constrained keys as patternProperties, which alone would let other
# keys through a JSON Schema validator; this makes the published schema as strict as the model.
_NO_OTHER_KEYS: dict[str, Any] = {"additionalProperties": False}


class ApprovalHeader(_Strict):
    reference: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")] = Field(
        description="the commission's reference for this approval"
    )
    approving_body: PersianText = Field(
        description="who approved it: the regulator's commission, or the law that sets the fee, in Persian"
    )
    session: PersianText = Field(description="the commission session that approved it, in Persian")
    approved_on: JalaliDate
    effective_from: JalaliDate = Field(description="first day in force (inclusive, from Tehran midnight)")
    effective_to: JalaliDate | None = Field(
        default=None, description="last day in force (inclusive); absent means open-ended"
    )
    sample: bool = Field(default=False, strict=True, description="true for demonstration values")

    @model_validator(mode="after")
    def _period_is_ordered(self) -> ApprovalHeader:
        if self.effective_to is not None and (
            parse_jalali_date(self.effective_to) < parse_jalali_date(self.effective_from)
        ):
            raise ValueError("effective_to is before effective_from")
        return self


class ExtraTariff(_Strict):
    name: PersianText
    unit_cap: PositiveCap


class ExtraCapOverride(_Strict):
    unit_cap: PositiveCap


class OfficeKindCaps(_Strict):
    """Caps that differ for one kind of office; anything left out is the service's own cap."""

    office_fee_cap: Fee | None = None
    extras: dict[ExtraCode, ExtraCapOverride] = Field(default_factory=dict, json_schema_extra=_NO_OTHER_KEYS)


class ServiceTariff(_Strict):
    government_fee: Fee = Field(description="fixed, collected in full for the agency")
    office_fee_cap: Fee = Field(description="most the office may charge as its own fee")
    extras: dict[ExtraCode, ExtraTariff] = Field(default_factory=dict, json_schema_extra=_NO_OTHER_KEYS)
    office_kinds: dict[OfficeKind, OfficeKindCaps] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _caps_are_coherent(self) -> ServiceTariff:
        for kind, caps in self.office_kinds.items():
            unknown = sorted(set(caps.extras) - set(self.extras))
            if unknown:
                raise ValueError(f"office_kinds.{kind.value} overrides unknown extras: {', '.join(unknown)}")
        for kind in OfficeKind:
            if self.government_fee + self.office_fee_cap_for(kind) == 0:
                raise ValueError(
                    f"nothing could ever be collected at a {kind.value} office "
                    "(government_fee and office_fee_cap are both 0)"
                )
        return self

    def office_fee_cap_for(self, kind: OfficeKind) -> int:
        caps = self.office_kinds.get(kind)
        return self.office_fee_cap if caps is None or caps.office_fee_cap is None else caps.office_fee_cap

    def extra_unit_cap_for(self, code: str, kind: OfficeKind) -> int:
        caps = self.office_kinds.get(kind)
        override = caps.extras.get(code) if caps is not None else None
        return self.extras[code].unit_cap if override is None else override.unit_cap


class TariffDocument(_Strict):
    """One approved tariff table: the approval's particulars and the caps it sets per service."""

    model_config = ConfigDict(
        title="Pishkhan tariff approval",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    approval: ApprovalHeader
    services: dict[ServiceCode, ServiceTariff] = Field(min_length=1, json_schema_extra=_NO_OTHER_KEYS)


def tariff_schema_json() -> str:
    """The JSON Schema of a tariff document, exactly as shipped in tariff_tables/schema.json."""
    return json.dumps(TariffDocument.model_json_schema(), ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------- periods and approvals


@dataclass(frozen=True)
class EffectivePeriod:
    first_day: jdatetime.date
    last_day: jdatetime.date | None  # inclusive; None = open-ended
    starts_at: datetime  # UTC, inclusive
    ends_before: datetime | None  # UTC, exclusive: Tehran midnight after last_day

    @classmethod
    def of(cls, header: ApprovalHeader) -> EffectivePeriod:
        first_day = parse_jalali_date(header.effective_from)
        last_day = None if header.effective_to is None else parse_jalali_date(header.effective_to)
        return cls(
            first_day=first_day,
            last_day=last_day,
            starts_at=day_start_utc(first_day),
            ends_before=None if last_day is None else day_start_utc(last_day + jdatetime.timedelta(days=1)),
        )

    def contains(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.ends_before is None or at < self.ends_before)

    def overlaps(self, other: EffectivePeriod) -> bool:
        return (other.ends_before is None or self.starts_at < other.ends_before) and (
            self.ends_before is None or other.starts_at < self.ends_before
        )

    def as_dict(self) -> dict[str, str | None]:
        return {
            "effective_from": format_jalali_date(self.first_day),
            "effective_to": None if self.last_day is None else format_jalali_date(self.last_day),
            "starts_at": format_utc(self.starts_at),
            "ends_before": None if self.ends_before is None else format_utc(self.ends_before),
        }


@dataclass(frozen=True)
class ApprovalTable:
    document: TariffDocument
    period: EffectivePeriod
    source: str
    # {"document": the approval exactly as signed, "algorithm", "key_id", "signature"}; None if unsigned
    signed: Mapping[str, Any] | None = None

    @property
    def reference(self) -> str:
        return self.document.approval.reference

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the approval, its period as Jalali days and UTC instants, and every service's caps."""
        header = self.document.approval
        return {
            "reference": header.reference,
            "approving_body": header.approving_body,
            "session": header.session,
            "approved_on": header.approved_on,
            **self.period.as_dict(),
            "sample": header.sample,
            "services": {
                code: tariff.model_dump(mode="json", exclude_none=True)
                for code, tariff in sorted(self.document.services.items())
            },
            "signed_approval": self.signed,
        }


# ---------------------------------------------------------------- errors


class TariffTableError(ValueError):
    """A tariff table that must not be loaded."""


# ---------------------------------------------------------------- quotes and charges


@dataclass(frozen=True)
class ExtraLine:
    code: str
    name: str
    quantity: int
    unit_cap: int
    cap: int


@dataclass(frozen=True)
class ChargedExtra:
    code: str
    name: str
    quantity: int
    amount: int


@dataclass(frozen=True)
class Charged:
    """How a collected amount divides: the government share, then the office fee, then extras."""

    approval_reference: str
    service_code: str
    quantity: int
    total: int
    government_share: int
    office_fee: int
    extras: tuple[ChargedExtra, ...]

    def __post_init__(self) -> None:
        parts = (self.government_share, self.office_fee, *(extra.amount for extra in self.extras))
        if min(parts) < 0 or sum(parts) != self.total:
            raise ValueError(f"charge parts {parts} do not add up to the total {self.total}")

    @property
    def office_share(self) -> int:
        """Everything that settles to the office: its fee and its extras."""
        return self.total - self.government_share

    @property
    def breakdown(self) -> dict[str, Any]:
        return {
            "approval_reference": self.approval_reference,
            "government_share": self.government_share,
            "office_fee": self.office_fee,
            "extras": [
                {"code": e.code, "name": e.name, "quantity": e.quantity, "amount": e.amount} for e in self.extras
            ],
            "total": self.total,
        }


@dataclass(frozen=True)
class Quote:
    """The most that may be collected for one service delivery at one moment, and its parts."""

    approval_reference: str
    service_code: str
    quantity: int
    office_kind: OfficeKind
    government_share: int  # government fee × quantity, always collected in full
    office_fee_cap: int  # office fee cap × quantity
    extras: tuple[ExtraLine, ...]

    @property
    def cap(self) -> int:
        return self.government_share + self.office_fee_cap + sum(line.cap for line in self.extras)

    @property
    def breakdown(self) -> dict[str, Any]:
        return {
            "approval_reference": self.approval_reference,
            "service_code": self.service_code,
            "quantity": self.quantity,
            "office_kind": self.office_kind.value,
            "government_share": self.government_share,
            "office_fee_cap": self.office_fee_cap,
            "extras": [
                {
                    "code": line.code,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_cap": line.unit_cap,
                    "cap": line.cap,
                }
                for line in self.extras
            ],
            "cap": self.cap,
        }

    def check(self, requested: int) -> Charged:
        """Accept `requested` rials if within the cap and not below the fixed government share."""
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise TypeError(f"amounts are whole rials (int), got {type(requested).__name__}")
        if requested < 1:
            raise InvalidAmount(
                "the amount must be at least 1 rial",
                details={"requested": requested, "tariff_reference": self.approval_reference},
            )
        cap = self.cap
        if requested > cap:
            raise ExcessFee(
                f"{requested} rials requested, {requested - cap} above the approved cap of {cap}",
                details={"cap": cap, "requested": requested, "excess": requested - cap},
            )
        if requested < self.government_share:
            raise BelowGovernmentFee(
                f"{requested} rials requested, below the fixed government fee of {self.government_share}",
                details={
                    "government_share": self.government_share,
                    "requested": requested,
                    "tariff_reference": self.approval_reference,
                },
            )
        remainder = requested - self.government_share
        office_fee = min(remainder, self.office_fee_cap)
        remainder -= office_fee
        extras = []
        for line in self.extras:
            amount = min(remainder, line.cap)
            remainder -= amount
            extras.append(ChargedExtra(line.code, line.name, line.quantity, amount))
        return Charged(
            approval_reference=self.approval_reference,
            service_code=self.service_code,
            quantity=self.quantity,
            total=requested,
            government_share=self.government_share,
            office_fee=office_fee,
            extras=tuple(extras),
        )


# ---------------------------------------------------------------- the book


def _check_quantity(quantity: int, what: str, **details: Any) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(
            f"the quantity of {what} must be a whole number from 1 to {MAX_QUANTITY}",
            details={"quantity": quantity, "max": MAX_QUANTITY, **details},
        )


def _validation_summary(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in error.errors())


class TariffBook:
    """Every loaded approval, indexed per service by the start of its effective period."""

    def __init__(self, tables: Iterable[ApprovalTable]) -> None:
        self._tables = tuple(sorted(tables, key=lambda table: (table.period.starts_at, table.reference)))
        by_reference: dict[str, ApprovalTable] = {}
        for table in self._tables:
            if table.reference in by_reference:
                raise TariffTableError(
                    f"approval {table.reference} appears twice: in "
                    f"{by_reference[table.reference].source} and {table.source}"
                )
            by_reference[table.reference] = table

        self._by_service: dict[str, list[ApprovalTable]] = {}
        for table in self._tables:
            for code in table.document.services:
                earlier = self._by_service.setdefault(code, [])
                for other in earlier:
                    if other.period.overlaps(table.period):
                        raise TariffTableError(
                            f"service {code} is priced twice over overlapping periods: by approval "
                            f"{other.reference} ({other.source}) and by approval {table.reference} ({table.source})"
                        )
                earlier.append(table)
        self._starts = {code: [t.period.starts_at for t in tables] for code, tables in self._by_service.items()}

    @classmethod
    def from_documents(cls, documents: Sequence[Mapping[str, Any]]) -> TariffBook:
        """Validate every document (`SOURCE_KEY` names its origin in errors) and build the book.

        A document's `SIGNATURE_KEY` is published beside it as given: checking it is the loader's job."""
        tables = []
        for position, raw in enumerate(documents, start=1):
            document = dict(raw)
            source = str(document.pop(SOURCE_KEY, f"document {position}"))
            signature = document.pop(SIGNATURE_KEY, None)
            try:
                parsed = TariffDocument.model_validate(document)
            except ValidationError as error:
                raise TariffTableError(f"{source}: {_validation_summary(error)}") from None
            signed = None if signature is None else {"document": document, **signature}
            tables.append(ApprovalTable(parsed, EffectivePeriod.of(parsed.approval), source, signed))
        return cls(tables)

    def table_for(self, service_code: str, at: datetime) -> ApprovalTable | None:
        """The approval that prices `service_code` at the instant `at`, if any."""
        require_aware(at)
        # No two periods of one service overlap, so only the latest one started by `at` can hold it.
        started = bisect.bisect_right(self._starts.get(service_code, []), at)
        if started == 0:
            return None
        candidate = self._by_service[service_code][started - 1]
        return candidate if candidate.period.contains(at) else None

    def quote(
        self,
        service_code: str,
        quantity: int,
        extras: Sequence[tuple[str, int]],
        office_kind: OfficeKind | str,
        at: datetime,
    ) -> Quote:
        _check_quantity(quantity, f"service {service_code}")
        try:
            kind = OfficeKind(office_kind)
        except ValueError:
            raise UnknownOfficeKind(
                f"{office_kind!r} is not a kind of office", details={"office_kind": str(office_kind)}
            ) from None
        table = self.table_for(service_code, at)
        if table is None:
            raise NoTariff(
                f"no approved tariff is in force for service {service_code} at {format_utc(at)}",
                details={"service_code": service_code, "at": format_utc(at)},
            )
        tariff = table.document.services[service_code]
        reference = {"tariff_reference": table.reference}

        lines: list[ExtraLine] = []
        for code, extra_quantity in extras:
            if code not in tariff.extras:
                raise UnknownExtra(
                    f"service {service_code} has no priced extra {code!r}",
                    details={"service_code": service_code, "extra": code, "known": sorted(tariff.extras), **reference},
                )
            if any(line.code == code for line in lines):
                raise DuplicateExtra(f"extra {code!r} is listed more than once", details={"extra": code, **reference})
            _check_quantity(extra_quantity, f"extra {code}", extra=code, **reference)
            unit_cap = tariff.extra_unit_cap_for(code, kind)
            lines.append(ExtraLine(code, tariff.extras[code].name, extra_quantity, unit_cap, unit_cap * extra_quantity))

        return Quote(
            approval_reference=table.reference,
            service_code=service_code,
            quantity=quantity,
            office_kind=kind,
            government_share=tariff.government_fee * quantity,
            office_fee_cap=tariff.office_fee_cap_for(kind) * quantity,
            extras=tuple(lines),
        )

    def tables_in_force(self, at: datetime) -> list[dict[str, Any]]:
        require_aware(at)
        return [table.as_dict() for table in self._tables if table.period.contains(at)]

    def approvals(self) -> list[dict[str, Any]]:
        """Every loaded approval, oldest first."""
        return [table.as_dict() for table in self._tables]
