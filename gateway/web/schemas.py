"""Request bodies, validated and normalised at the edge (Persian/Arabic digits and letters, invisible characters).
The same models give the OpenAPI schemas."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from gateway.core.errors import InvalidJson, ParameterInvalid
from gateway.core.field_text import refused_character
from gateway.core.identifiers import (
    InvalidIdentifier,
    parse_foreign_national_id,
    parse_legal_person_id,
    parse_mobile,
    parse_national_code,
    parse_nationality,
    parse_passport_number,
)
from gateway.core.jalali import format_jalali_date, parse_jalali_date
from gateway.core.recipients import RecipientId, RecipientKind
from gateway.core.text import normalize_persian
from gateway.core.voids import VoidReason

MAX_AMOUNT = 10**13


def _identifier(parse):
    def check(value: str) -> str:
        try:
            return parse(value)
        except InvalidIdentifier as exc:
            raise ValueError(exc.message) from exc

    return check


def _normalized_if_text(value: object) -> object:
    return normalize_persian(value) if isinstance(value, str) else value


# Digits in any script, checked against the pattern once they are ASCII. Normalising before the string check keeps
# the pattern in the published schema.
_AsciiDigits = BeforeValidator(_normalized_if_text)


def _only_allowed_characters(value: str) -> str:
    refused = refused_character(value)
    if refused is not None:
        raise ValueError(f"{refused} is a control or format character, which this field may not hold")
    return value


PersianText = Annotated[
    str,
    AfterValidator(normalize_persian),
    AfterValidator(_only_allowed_characters),
    Field(min_length=1, max_length=200),
]
Code = Annotated[
    str, AfterValidator(normalize_persian), AfterValidator(_only_allowed_characters), Field(min_length=1, max_length=64)
]
NationalCode = Annotated[str, Field(max_length=40), AfterValidator(_identifier(parse_national_code))]
Mobile = Annotated[str, Field(max_length=40), AfterValidator(_identifier(parse_mobile))]
LegalPersonId = Annotated[str, Field(max_length=40), AfterValidator(_identifier(parse_legal_person_id))]
ForeignNationalId = Annotated[str, Field(max_length=40), AfterValidator(_identifier(parse_foreign_national_id))]
PassportNumber = Annotated[str, Field(max_length=40), AfterValidator(_identifier(parse_passport_number))]
Nationality = Annotated[str, Field(max_length=3), AfterValidator(_identifier(parse_nationality))]


def _birth_date(value: str) -> str:
    return format_jalali_date(parse_jalali_date(value))


BirthDate = Annotated[
    str, Field(max_length=20, description="Jalali YYYY/MM/DD", examples=["1370/01/15"]), AfterValidator(_birth_date)
]

# The identifier fields each kind of recipient carries (gateway/core/recipients.py); a foreign national carries
# either the first set or the second.
_KIND_FIELDS: dict[RecipientKind, tuple[frozenset[str], ...]] = {
    RecipientKind.INDIVIDUAL: (frozenset({"national_code"}),),
    RecipientKind.LEGAL_PERSON: (frozenset({"national_id"}),),
    RecipientKind.FOREIGN_NATIONAL: (frozenset({"foreign_national_id"}), frozenset({"passport_number", "nationality"})),
}
_IDENTIFIER_FIELDS = frozenset().union(*(fields for options in _KIND_FIELDS.values() for fields in options))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Recipient(_Body):
    kind: RecipientKind = RecipientKind.INDIVIDUAL
    name: PersianText
    national_code: NationalCode | None = None
    national_id: LegalPersonId | None = None
    foreign_national_id: ForeignNationalId | None = None
    passport_number: PassportNumber | None = None
    nationality: Nationality | None = None
    birth_date: BirthDate | None = Field(
        default=None, description="An individual's birth date, for services whose identity policy asks the registry"
    )
    mobile: Mobile

    @model_validator(mode="after")
    def _identified_by_its_kind(self) -> Self:
        given = frozenset(name for name in _IDENTIFIER_FIELDS if getattr(self, name) is not None)
        options = _KIND_FIELDS[self.kind]
        if given not in options:
            expected = " or ".join(" + ".join(sorted(fields)) for fields in options)
            raise ValueError(f"a recipient of kind {self.kind.value} is identified by {expected} alone")
        if self.birth_date is not None and self.kind is not RecipientKind.INDIVIDUAL:
            raise ValueError("only an individual recipient carries a birth date")
        return self

    def recipient_id(self) -> RecipientId:
        if self.kind is RecipientKind.INDIVIDUAL:
            return RecipientId(self.kind, str(self.national_code))
        if self.kind is RecipientKind.LEGAL_PERSON:
            return RecipientId(self.kind, str(self.national_id))
        if self.foreign_national_id is not None:
            return RecipientId(self.kind, self.foreign_national_id)
        return RecipientId.by_passport(str(self.nationality), str(self.passport_number))


class Extra(_Body):
    code: Code
    quantity: StrictInt = Field(ge=1, le=1000)


TerminalId = Annotated[str, Field(pattern=r"^[0-9]{8}$"), _AsciiDigits]
ServiceCode = Annotated[str, Field(pattern=r"^[0-9]{1,10}$"), _AsciiDigits]


def _published_as_card(schema: dict) -> None:
    schema.clear()
    schema.update({"type": "string", "enum": ["card"], "maxLength": 32, "title": "Payment Method"})


class ChargeRequest(_Body):
    terminal_id: TerminalId
    operator_id: Code
    service_code: ServiceCode
    quantity: StrictInt = Field(default=1, ge=1, le=1000)
    extras: list[Extra] = Field(default_factory=list, max_length=20)
    recipient: Recipient
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="Integer rials")
    # As sent, neither trimmed nor normalised: the charge rules compare it exactly and record a refused one (a
    # missing one too, which is why the model lets it be absent while the published schema requires it).
    payment_method: Annotated[str | None, StringConstraints(strip_whitespace=False, max_length=32)] = Field(
        default=None, json_schema_extra=_published_as_card
    )

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=lambda schema: schema["required"].append("payment_method"),
    )


class VoidRequest(_Body):
    reason: VoidReason = Field(description="Why the charge is voided, from the fixed list")
    reason_text: Annotated[str, AfterValidator(normalize_persian), Field(min_length=3, max_length=500)] = Field(
        description="The office's own words: what happened"
    )


def validation_error(exc: ValidationError) -> ParameterInvalid:
    errors = [{"param": ".".join(str(part) for part in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    first = errors[0]
    return ParameterInvalid(f"{first['param']}: {first['message']}", param=first["param"], details={"errors": errors})


# A NUL in a JSON string can only be written \u0000 (a raw one is not JSON); one preceded by an odd number of
# backslashes is the text "\u0000" instead.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _path_to_nul(value: object, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        found = _path_to_nul(item, (*path, str(key)))
        if found is not None:
            return found
    return None


def _refuse_nul(raw: bytes) -> None:
    """NUL anywhere in a JSON body (PostgreSQL text cannot hold it): 400 naming where it is."""
    if b"\\u0000" not in raw and b"\\U0000" not in raw:
        return  # the common case, told without the pattern's scan of every position
    if not _JSON_NUL.search(raw):
        return
    try:
        path = _path_to_nul(orjson.loads(raw))
    except orjson.JSONDecodeError:
        raise InvalidJson() from None
    if path is not None:
        param = ".".join(path) or None
        raise ParameterInvalid(f"{param or 'the body'}: NUL (U+0000) is not allowed in any field", param=param)


def parse_body(model: type[BaseModel], raw: bytes):
    _refuse_nul(raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidJson() from None
        raise validation_error(exc) from exc


class PrintRequest(_Body):
    """POST /v1/receipts/{tracking_code}/prints: which paper form is printed."""

    form: Literal["a5", "80mm", "txt"]
