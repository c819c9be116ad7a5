"""Which characters a text field may hold, decided at the edge after normalisation (gateway/core/text.py).

Names and codes are read by people, printed on receipts and stored in PostgreSQL (whose text cannot hold NUL). So
after `normalize_persian` has removed the invisible marks that carry no meaning (direction marks and embeddings,
zero-width space and joiner), every remaining control, format, private-use, surrogate or unassigned character
(Unicode categories C*) is refused, except ZWNJ, which Persian spelling needs inside a word (نیم‌فاصله)."""

from __future__ import annotations

import unicodedata

from gateway.core.text import ZWNJ

ALLOWED_FORMAT_CHARACTERS = frozenset({ZWNJ})


def refused_character(text: str) -> str | None:
    """The first character `text` may not hold, named as U+XXXX, or None when every one is allowed."""
    if text.isprintable():
        return None  # no character of categories C* (nor Z* but the space), checked in C
    for character in text:
        if unicodedata.category(character).startswith("C") and character not in ALLOWED_FORMAT_CHARACTERS:
            return f"U+{ord(character):04X}"
    return None
