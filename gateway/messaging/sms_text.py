"""The confirmation SMS: "پیامکی دال بر ارایه خدمت" (letter 100/15131, item 9), and SMS part counting.

A message that fits the GSM 03.38 alphabet is sent in 7-bit parts (160 septets alone, 153 per part when
split); anything else, Persian always, goes as UCS-2 (70 UTF-16 code units alone, 67 per part when split).
A confirmation never takes more than `MAX_PARTS` parts: the least important pieces give way first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from urllib.parse import quote

from gsm0338.charset import BASIC_CHARACTER_SET, BASIC_CHARACTER_SET_EXTENSION

from gateway.core.text import format_rials, normalize_persian

MAX_PARTS = 2

_GSM7_SINGLE, _GSM7_PER_PART = 160, 153
_UCS2_SINGLE, _UCS2_PER_PART = 70, 67

# The characters the gsm03.38 codec encodes, from the codec's own tables; an extension character goes
# behind an escape, so it takes two septets.
_GSM7_ESCAPED = frozenset(map(unicodedata.lookup, BASIC_CHARACTER_SET_EXTENSION.values()))
_GSM7 = frozenset(map(unicodedata.lookup, BASIC_CHARACTER_SET.values())) | _GSM7_ESCAPED
# A character that is not one UTF-16 code unit: outside the BMP (two), or a lone surrogate (none; it cannot be sent).
_NOT_ONE_UCS2_UNIT = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")

_ELLIPSIS = "…"


def count_parts(text: str) -> int:
    """How many SMS parts `text` takes (an empty text still takes one)."""
    if _GSM7.issuperset(text):
        if _GSM7_ESCAPED.isdisjoint(text):
            return _even_parts(len(text), _GSM7_SINGLE, _GSM7_PER_PART)
        return _packed_parts([2 if ch in _GSM7_ESCAPED else 1 for ch in text], _GSM7_SINGLE, _GSM7_PER_PART)
    if not _NOT_ONE_UCS2_UNIT.search(text):
        return _even_parts(len(text), _UCS2_SINGLE, _UCS2_PER_PART)
    # Raises UnicodeEncodeError for a lone surrogate.
    return _packed_parts([len(ch.encode("utf-16-le")) // 2 for ch in text], _UCS2_SINGLE, _UCS2_PER_PART)


def _even_parts(length: int, single: int, per_part: int) -> int:
    return 1 if length <= single else -(-length // per_part)


def _packed_parts(costs: list[int], single: int, per_part: int) -> int:
    if sum(costs) <= single:
        return 1
    # A character is never split across two parts (an escaped GSM character, a UTF-16 surrogate pair).
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def verify_link(verify_base_url: str, tracking_code: str, secret: str = "") -> str:
    """The short link to the receipt's public page: `{base}/r/{tracking}/{secret}`; without the secret the page only
    tells whether such a receipt exists and is genuine."""
    link = f"{verify_base_url.rstrip('/')}/r/{quote(tracking_code, safe='')}"
    return f"{link}/{quote(secret, safe='')}" if secret else link


def render_confirmation(
    *,
    service_name: str,
    amount: int,
    tracking_code: str,
    office_name: str,
    verify_base_url: str,
    link_secret: str = "",
) -> str:
    """The confirmation text, at most `MAX_PARTS` parts, never cutting a word.

    When the full form is too long, the last words of the service name give way to "…", then the service name
    (the receipt page behind the link names it); then the line naming the tracking code goes, as the link shows
    it; only then does the link go, and the service name is tried again beside the tracking code line; the office
    name, the amount and the tracking code stay (the registry refuses an office name too long for that; a longer one
    would lose its last words too). Raises ValueError for a negative amount, an empty tracking code, or a
    tracking code so long that even the shortest form cannot fit.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount must be a whole number of rials >= 0, got {amount!r}")
    tracking = normalize_persian(tracking_code)
    if not tracking:
        raise ValueError("tracking code is empty")
    # Registry names may carry line breaks, runs of spaces or direction marks; a message line must not.
    service, office = normalize_persian(service_name), normalize_persian(office_name)
    link = verify_link(verify_base_url, tracking, link_secret)

    amount_line = f"مبلغ اخذ شده: {format_rials(amount)} ریال"

    tracking_line = f"شماره رهگیری: {tracking}"
    endings = [f"{tracking_line}\n{link}"]
    if tracking in link:  # the link shows the tracking code, so it may stand in for the line that names it
        endings.append(link)
    endings.append(tracking_line)

    def compose(service: str, office: str, ending: str) -> str:
        named = f"«{service}» " if service else ""
        where = f"در {office} " if office else ""
        return "\n".join([f"خدمت {named}{where}ارایه شد.", amount_line, ending])

    for text in _shrinking_forms(compose, service, office, endings):
        if count_parts(text) <= MAX_PARTS:
            return text
    raise ValueError(f"tracking code of {len(tracking)} characters cannot fit in {MAX_PARTS} parts")


def _shortened(text: str) -> Iterator[str]:
    """`text` without its last word, then without its last two, ..., each ending in "…"."""
    words = text.split(" ")
    for keep in range(len(words) - 1, 0, -1):
        yield " ".join(words[:keep]) + _ELLIPSIS


def _shrinking_forms(
    compose: Callable[[str, str, str], str], service: str, office: str, endings: list[str]
) -> Iterator[str]:
    for ending in endings:
        yield compose(service, office, ending)
        for shorter in _shortened(service):
            yield compose(shorter, office, ending)
        yield compose("", office, ending)
    for shorter in _shortened(office):
        yield compose("", shorter, endings[-1])
    yield compose("", "", endings[-1])


def render_cancellation(
    *, cancelled_tracking_code: str, amount: int, tracking_code: str, verify_base_url: str, by_refund: bool = False
) -> str:
    """The SMS that a paid fee was returned: which receipt was voided, the amount returned to the card (by a
    reversal at once; by a refund, with the PSP's next settlement) and the cancellation's own tracking code, with its
    verify link when it fits in `MAX_PARTS` parts."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a whole number of rials > 0, got {amount!r}")
    lines = [
        f"رسید {normalize_persian(cancelled_tracking_code)} ابطال شد.",
        f"مبلغ {format_rials(amount)} ریال با تسویه بعدی به کارت مسترد می‌شود."
        if by_refund
        else f"مبلغ مسترد شده به کارت: {format_rials(amount)} ریال",
        f"شماره رهگیری ابطال: {normalize_persian(tracking_code)}",
    ]
    with_link = "\n".join([*lines, verify_link(verify_base_url, tracking_code)])
    return with_link if count_parts(with_link) <= MAX_PARTS else "\n".join(lines)
