"""The fields a citizen types, checked and normalised at the edge (Persian and Arabic digits and letters), with a
message in Persian and English for each."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.complaints import rules
from gateway.core.errors import ParameterInvalid
from gateway.core.identifiers import InvalidIdentifier, is_valid_tracking_code, parse_mobile
from gateway.core.text import normalize_persian


def _text(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise ParameterInvalid(f"`{name}` must be text. / این خانه باید متن باشد.", param=name)
    return value


def tracking_code(fields: Mapping[str, object]) -> str:
    code = normalize_persian(_text(fields, "tracking_code")).replace(" ", "")
    if not is_valid_tracking_code(code):
        raise ParameterInvalid(
            "`tracking_code` must be the 18-digit tracking code of a receipt. / "
            "شماره رهگیری ۱۸ رقمی رسید را وارد کنید.",
            param="tracking_code",
        )
    return code


def mobile(fields: Mapping[str, object]) -> str:
    try:
        return parse_mobile(_text(fields, "mobile"))
    except InvalidIdentifier:
        raise ParameterInvalid(
            "`mobile` must be an Iranian mobile number such as 09121234567. / "
            "شماره همراه را مانند ۰۹۱۲۱۲۳۴۵۶۷ وارد کنید.",
            param="mobile",
        ) from None


def code(fields: Mapping[str, object]) -> str:
    value = normalize_persian(_text(fields, "code")).strip()
    if not (value.isascii() and value.isdigit() and len(value) == 6):
        raise ParameterInvalid(
            "`code` is the 6-digit code sent by SMS. / کد ۶ رقمی پیامک‌شده را وارد کنید.", param="code"
        )
    return value


def category(fields: Mapping[str, object]) -> str:
    return rules.checked_category(_text(fields, "category"))


def body(fields: Mapping[str, object]) -> str:
    return rules.checked_text(_text(fields, "text"), "text", rules.MAX_TEXT, required=True)
