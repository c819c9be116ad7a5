"""Opaque cursors for the regulator's lists: the sort key of the last row returned, tagged with its list."""
from __future__ import annotations

import base64
import binascii
from datetime import datetime

import orjson


class BadCursor(ValueError):
    pass


def encode_cursor(kind: str, key: tuple) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(orjson.dumps([kind, *values])).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, types: tuple[type, ...]) -> tuple:
    """The key `encode_cursor(kind, key)` was given, checked against the expected value types."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise BadCursor("the cursor is not one this list gave out") from None
    if not isinstance(decoded, list) or len(decoded) != len(types) + 1 or decoded[0] != kind:
        raise BadCursor("the cursor is not one this list gave out")
    key = []
    for value, expected in zip(decoded[1:], types):
        try:
            key.append(datetime.fromisoformat(value) if expected is datetime else value)
        except (TypeError, ValueError):
            raise BadCursor("the cursor is not one this list gave out") from None
        if not _fits(key[-1], expected):
            raise BadCursor("the cursor is not one this list gave out")
    return tuple(key)


def _fits(value, expected: type) -> bool:
    """Of the expected type, and storable as such (a bigint; text without NUL)."""
    if not isinstance(value, expected) or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -2**63 <= value < 2**63
    return not isinstance(value, str) or ("\x00" not in value and len(value) <= 200)
