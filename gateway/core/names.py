"""Whether the name an office typed is the name the civil registry holds, up to Persian spelling variants.

Two spellings of one name differ in ways a keyboard or a database introduces, not a person: Arabic or Persian
yeh and kaf (ي/ی, ك/ک), teh marbuta or heh with yeh above for heh (ة/ۀ/ه), hamza on alef (أ/إ → ا), the diacritics
(harakat, tanwin, superscript alef), tatweel, and where words are split: a space, a ZWNJ (نیم‌فاصله) or nothing
(«عبدالله», «عبد الله» and «عبد‌الله» are one name). Everything else, a different letter included, is a different
name: the comparison refuses rather than guesses.
"""

from __future__ import annotations

import re

from gateway.core.text import ZWNJ, normalize_persian

_SPELLING_VARIANTS = str.maketrans(
    {
        "\u0629": "\u0647",  # teh marbuta → heh
        "\u06c0": "\u0647",  # heh with yeh above → heh
        "\u06c1": "\u0647",  # heh goal → heh
        "\u0623": "\u0627",  # alef with hamza above → alef
        "\u0625": "\u0627",  # alef with hamza below → alef
        "\u0671": "\u0627",  # alef wasla → alef
        "\u0640": None,  # tatweel
    }
)
# Harakat, tanwin, shadda, sukun, superscript alef, and the small high marks of the Quranic annotation block.
_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
_WORD_BREAKS = re.compile(rf"[\s{ZWNJ}]+")


def name_key(name: str) -> str:
    """The form two spellings of one name share."""
    text = normalize_persian(name).translate(_SPELLING_VARIANTS)
    text = _DIACRITICS.sub("", text)
    return _WORD_BREAKS.sub("", text).casefold()


def names_match(typed: str, registered: str) -> bool:
    """True when `typed` is `registered` up to the spelling variants above; never for an empty name."""
    key = name_key(typed)
    return bool(key) and key == name_key(registered)
