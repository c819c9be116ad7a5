from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.canonical import b64url_decode, b64url_encode, canonical_bytes

_SAFE = 2**53 - 1
_scalars = (
    st.none()
    | st.booleans()
    | st.text()
    | st.integers(min_value=-_SAFE, max_value=_SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_canonical_bytes_equal_the_reference_implementation(value) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


def test_known_rfc8785_form() -> None:
    # Sorted keys, no whitespace, minimal escapes, UTF-8 kept as is.
    value = {"b": [1, True, None], "a": '€\n"\u0001', "\u00e9": {"z": 0, "y": -5}}

    assert canonical_bytes(value) == '{"a":"€\\n\\"\\u0001","b":[1,true,null],"é":{"y":-5,"z":0}}'.encode()


def test_integers_beyond_double_precision_have_no_canonical_form() -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_bytes({"amount": 2**53})


@given(st.binary(max_size=70))
def test_base64url_round_trips_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize("text", ["AB==", "AB", "A+", "A/", "A", "é", "AB\n"])
def test_base64url_refuses_other_spellings(text: str) -> None:
    # "AB" decodes to the same byte as the canonical "AA": accepting it would give one signature two spellings.
    with pytest.raises(ValueError):
        b64url_decode(text)
