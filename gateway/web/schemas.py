"""Request bodies, validated and normalised at the edge (Persian/Arabic digits and letters, invisible characters).
The same models give the OpenAPI schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError

from gateway.core.errors import InvalidJson, ParameterInvalid
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


PersianText = Annotated[str, AfterValidator(normalize_persian), Field(min_length=1, max_length=200)]
Code = Annotated[str, AfterValidator(normalize_persian), Field(min_length=1, max_length=64)]
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


class ChargeRequest(_Body):
    terminal_id: TerminalId
    operator_id: Code
    service_code: ServiceCode
    quantity: StrictInt = Field(default=1, ge=1, le=1000)
    extras: list[Extra] = Field(default_factory=list, max_length=20)
    recipient: Recipient
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="Integer rials")
    payment_method: Annotated[str, Field(min_length=1, max_length=32)]


def validation_error(exc: ValidationError) -> ParameterInvalid:
    errors = [{"param": ".".join(str(part) for part in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    first = errors[0]
    return ParameterInvalid(f"{first['param']}: {first['message']}", param=first["param"], details={"errors": errors})


def parse_body(model: type[BaseModel], raw: bytes):
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidJson() from None
        raise validation_error(exc) from exc


class PrintRequest(_Body):
    """POST /v1/receipts/{tracking_code}/prints: which paper form is printed."""

    form: Literal["a5", "80mm", "txt"]
