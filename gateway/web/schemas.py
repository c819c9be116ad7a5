"""Request bodies, validated and normalised at the edge (Persian/Arabic digits and letters, invisible characters).
The same models give the OpenAPI schemas."""

from __future__ import annotations

import re
from typing import Annotated

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
)

from gateway.core.errors import InvalidJson, ParameterInvalid
from gateway.core.field_text import refused_character
from gateway.core.identifiers import InvalidIdentifier, parse_mobile, parse_national_code
from gateway.core.text import normalize_persian

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


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Recipient(_Body):
    name: PersianText
    national_code: NationalCode
    mobile: Mobile


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
