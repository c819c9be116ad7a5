"""Persian text and digits: one normal form at the input edge, and display forms on the way out.

Everything that is checked, stored or signed goes through `normalize_persian` first, so that the
same name typed on a keyboard with Arabic letters, Persian digits or stray direction marks is the
same string everywhere.
"""

from __future__ import annotations

import re
import unicodedata

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
ZWNJ = "\u200c"  # نیم‌فاصله: keeps two letters of one word from joining
PERSIAN_THOUSANDS_SEPARATOR = "\u066c"

# Zero-width and direction-control characters that carry no meaning once text is stored:
# ZWSP, ZWJ, word joiner, BOM, LRM/RLM, Arabic letter mark, LRE..RLO embeddings, LRI..PDI isolates, soft hyphen.
_INVISIBLE = (
    "\u200b\u200d\u2060\ufeff\u200e\u200f\u061c\u00ad"
    + "".join(map(chr, range(0x202A, 0x202F)))
    + "".join(map(chr, range(0x2066, 0x206A)))
)

_ASCII_DIGITS_TABLE = str.maketrans(PERSIAN_DIGITS + ARABIC_INDIC_DIGITS, "0123456789" * 2)
_PERSIAN_DIGITS_TABLE = str.maketrans("0123456789", PERSIAN_DIGITS)
_LETTER_CHANGES: dict[str | int, str | None] = {
    "\u064a": "\u06cc",  # Arabic yeh → Persian yeh
    "\u0649": "\u06cc",  # Arabic alef maksura → Persian yeh
    "\u0643": "\u06a9",  # Arabic kaf → Persian keheh
    **{ord(c): None for c in _INVISIBLE},
}
_PERSIAN_LETTERS_TABLE = str.maketrans(_LETTER_CHANGES)

_ZWNJ_RUN = re.compile(ZWNJ + "{2,}")
_ZWNJ_AT_WORD_EDGE = re.compile(rf"(?:\A|(?<=\s)){ZWNJ}|{ZWNJ}(?=\s|\Z)")
# What `_normalized` replaces or drops wherever it stands, and a ZWNJ it drops where it stands.
_CHANGED_CHARACTERS = frozenset(PERSIAN_DIGITS + ARABIC_INDIC_DIGITS + _INVISIBLE + "\u064a\u0649\u0643")
_MISPLACED_ZWNJ = re.compile(f"{_ZWNJ_RUN.pattern}|{_ZWNJ_AT_WORD_EDGE.pattern}")


def to_ascii_digits(s: str) -> str:
    """Persian (۰-۹) and Arabic-Indic (٠-٩) digits → ASCII; everything else unchanged."""
    return s.translate(_ASCII_DIGITS_TABLE)


def to_persian_digits(s: str) -> str:
    """ASCII digits → Persian digits, for display."""
    return s.translate(_PERSIAN_DIGITS_TABLE)


def normalize_persian(s: str) -> str:
    """The stored form of free Persian text; idempotent.

    Arabic ي/ى/ك become Persian ی/ک, digits become ASCII, invisible format characters go,
    ZWNJ stays only inside a word (one at a time), whitespace collapses to single spaces, NFC.
    """
    if s.isascii():
        return " ".join(s.split())  # none of the changes below touches an ASCII character but whitespace
    # Most text the charge path handles is stored text already (the registry's names, text normalised at the edge),
    # and telling so costs a fraction of normalising it.
    return s if _in_stored_form(s) else _normalized(s)


def _in_stored_form(s: str) -> bool:
    """Whether `_normalized` would give `s` back unchanged."""
    return (
        _CHANGED_CHARACTERS.isdisjoint(s)
        and (ZWNJ not in s or _MISPLACED_ZWNJ.search(s) is None)
        and " ".join(s.split()) == s
        and unicodedata.is_normalized("NFC", s)
    )


def _normalized(s: str) -> str:
    # NFC first so that a letter and its combining hamza compose before the letter table runs
    # (ي + ٔ is ئ, not ی + ٔ); NFC again last because deleting an invisible character can bring a
    # base letter and a combining mark together.
    text = unicodedata.normalize("NFC", s)
    text = to_ascii_digits(text).translate(_PERSIAN_LETTERS_TABLE)
    text = _ZWNJ_RUN.sub(ZWNJ, text)
    text = _ZWNJ_AT_WORD_EDGE.sub("", text)
    text = " ".join(text.split())  # whitespace runs (str.isspace, as regex \s) become one space, none at the ends
    return unicodedata.normalize("NFC", text)


def matching_form(s: str) -> str:
    """The form two typings of one text share when they are compared or searched, not stored: `normalize_persian`
    (ی/ي, ک/ك, digits' script, invisible marks), then without ZWNJ or spaces, case-folded.
    «کارت ملی», «كارت‌ملي» and «کارتملی» are one text here."""
    return normalize_persian(s).replace(ZWNJ, "").replace(" ", "").casefold()


def format_rials(amount: int, persian_digits: bool = True) -> str:
    """`1250000` → `"۱٬۲۵۰٬۰۰۰"` (or `"1,250,000"` with ASCII digits)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amounts are whole rials (int), got {type(amount).__name__}")
    grouped = f"{amount:,}"
    if not persian_digits:
        return grouped
    return to_persian_digits(grouped.replace(",", PERSIAN_THOUSANDS_SEPARATOR))
