"""RFC 8785 (JSON Canonicalization Scheme) bytes, SHA-256 digests and unpadded base64url.

`rfc8785` is the reference implementation, but it is pure Python and costs about 0.25 ms for one
receipt, more than the whole signing budget. For the JSON profile receipts are built from (string
keys in ASCII, integers within ±(2**53 - 1), no floats) orjson's sorted compact output is byte for
byte the RFC 8785 form: keys in the same order (ASCII sorts the same in UTF-16), the same minimal
string escapes, integers written the same way. Anything outside that profile goes to `rfc8785`.
`tests/receipts/test_canonical.py` holds the two paths equal on generated documents.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson
import rfc8785

_MAX_SAFE_INT = 2**53 - 1
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _in_fast_profile(value: Any) -> bool:
    # Exact type checks: subclasses (bool is an int, str enums) serialise differently per library.
    # Plain loops rather than all(...): this walk runs on every receipt signed.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _in_fast_profile(item):
                return False
        return True
    if kind is list:
        return all(_in_fast_profile(item) for item in value)
    return False


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 serialisation of a JSON value; raises `rfc8785.CanonicalizationError` if it has none."""
    if _in_fast_profile(value):
        return orjson.dumps(value, option=_ORJSON_OPTIONS)
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: any other spelling of the same bytes is refused with ValueError.

    Accepting several spellings would let one signature appear as several receipts with different hashes.
    """
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise ValueError("expected unpadded base64url text")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64url: {exc}") from None
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data
