"""What a complaint may say and how its status moves: pure rules, no I/O."""

from __future__ import annotations

import secrets
import unicodedata

from gateway.core.errors import ParameterInvalid

# category → (Persian label, the finding an upheld complaint of this kind becomes, if any)
CATEGORIES: dict[str, tuple[str, str | None]] = {
    "excess_fee": ("دریافت وجه مازاد بر تعرفه", "excess_fee"),
    "cash_demanded": ("درخواست وجه نقد", "cash_payment"),
    "card_refused_cash_asked": ("نپذیرفتن کارت و درخواست وجه نقد", "cash_payment"),
    "service_not_delivered": ("ارائه نشدن خدمت", None),
    "receipt_not_given": ("ندادن رسید", None),
    "conduct": ("رفتار نامناسب", None),
    "other": ("سایر", None),
}
STATUSES: dict[str, str] = {
    "received": "دریافت شد",
    "under_review": "در حال بررسی",
    "upheld": "وارد دانسته شد",
    "rejected": "وارد دانسته نشد",
}
# A decided complaint stays decided.
MOVES: dict[str, frozenset[str]] = {
    "received": frozenset({"under_review", "upheld", "rejected"}),
    "under_review": frozenset({"upheld", "rejected"}),
    "upheld": frozenset(),
    "rejected": frozenset(),
}
MAX_TEXT = 2000
MAX_NOTE = 1000
_NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L: read out over the phone


def new_complaint_number() -> str:
    """Unguessable (about 59 bits), so the status page needs nothing else: for example `C-7K3M-Q9PX-2D4F`."""
    chars = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(12))
    return f"C-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def finding_type(category: str) -> str | None:
    return CATEGORIES[category][1]


def checked_category(value: str) -> str:
    if value not in CATEGORIES:
        raise ParameterInvalid(
            f"`category` must be one of {', '.join(CATEGORIES)}. / موضوع شکایت را از فهرست انتخاب کنید.",
            param="category",
        )
    return value


def checked_text(value: str, param: str, limit: int, *, required: bool) -> str:
    """Free text kept as typed (it is shown escaped), less control characters other than line breaks and tabs."""
    text = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
    if required and not text:
        raise ParameterInvalid(f"`{param}` is required. / شرح شکایت را بنویسید.", param=param)
    if len(text) > limit:
        raise ParameterInvalid(f"`{param}` is at most {limit} characters. / متن حداکثر {limit} نویسه است.", param=param)
    return text


def checked_move(current: str, new: str) -> str:
    if new not in STATUSES:
        raise ParameterInvalid(f"`status` must be one of {', '.join(STATUSES)}.", param="status")
    if new not in MOVES[current]:
        raise ParameterInvalid(f"A complaint {current} cannot become {new}.", param="status")
    return new
