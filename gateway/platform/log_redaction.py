"""Masks personal and card data in every log line before it is written.

Whatever a message or a traceback carries, what reaches a log handler has: full card numbers (16 digits passing the
Luhn check) masked to first 6 + last 4, mobile numbers to 0912***4567, national codes (any 10 digits standing alone,
which also covers an Iran Poosheh address iran<national code>) to ******5679, and API key secrets to pk_<id>.***.
Persian and Arabic-Indic digits are matched like ASCII ones.
"""

from __future__ import annotations

import logging
import re

from stdnum import luhn

from gateway.core.identifiers import mask_mobile, mask_national_code, mask_pan
from gateway.core.text import to_ascii_digits

_DIGIT = "[0-9\u06f0-\u06f9\u0660-\u0669]"
_ALONE_BEFORE = rf"(?<!{_DIGIT})"
_ALONE_AFTER = rf"(?!{_DIGIT})"
_PAN = re.compile(rf"{_ALONE_BEFORE}{_DIGIT}{{16}}{_ALONE_AFTER}")
# A prefix is required: ten digits alone are masked as a national code, which keeps fewer of them.
_MOBILE = re.compile(rf"{_ALONE_BEFORE}(?:\+?(?:98|۹۸|٩٨)|00(?:98)|۰۰۹۸|[0۰٠])[9۹٩]{_DIGIT}{{9}}{_ALONE_AFTER}")
_TEN_DIGITS = re.compile(rf"{_ALONE_BEFORE}{_DIGIT}{{10}}{_ALONE_AFTER}")
_API_KEY = re.compile(r"\b(pk_[A-Za-z0-9_-]{1,64})\.[A-Za-z0-9_-]+")
_TRACEBACKS = logging.Formatter()


def _pan(match: re.Match) -> str:
    digits = to_ascii_digits(match.group())
    return mask_pan(digits) if luhn.is_valid(digits) else match.group()


def redact(text: str) -> str:
    text = _API_KEY.sub(r"\1.***", text)
    text = _PAN.sub(_pan, text)
    text = _MOBILE.sub(lambda match: mask_mobile(match.group()), text)
    return _TEN_DIGITS.sub(lambda match: mask_national_code(match.group()), text)


class RedactingFilter(logging.Filter):
    """A handler filter: rewrites the record's message (and traceback) to its redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call is reported by the handler itself, as logging always does
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(handlers: list[logging.Handler] | None = None) -> None:
    """Adds the filter to the given handlers, or to every handler of the root logger."""
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
