"""Finding a service at the counter by what the operator types: its code, or a part of its name.

Typing differs from the registry in ways a keyboard introduces, not a person: Arabic or Persian yeh and kaf (ي/ی, ك/ک),
Persian, Arabic-Indic or ASCII digits, a ZWNJ, a space or nothing between the parts of a word. All of them are the
same here (`matching_form`). Pure: the services are passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from gateway.core.registry import Service
from gateway.core.text import matching_form, normalize_persian

MAX_QUERY_LENGTH = 100


class _Rank(enum.IntEnum):
    """Lower is better: the code typed in full, then a code's beginning, then the name's beginning, then the whole
    text inside the name, then every typed word somewhere in the name."""

    CODE = 0
    CODE_PREFIX = 1
    NAME_PREFIX = 2
    NAME_CONTAINS = 3
    NAME_HAS_WORDS = 4


def _rank(service: Service, whole: str, words: list[str]) -> _Rank | None:
    name = matching_form(service.name)
    if service.code == whole:
        return _Rank.CODE
    if service.code.startswith(whole):
        return _Rank.CODE_PREFIX
    if name.startswith(whole):
        return _Rank.NAME_PREFIX
    if whole in name:
        return _Rank.NAME_CONTAINS
    if all(word in name for word in words):
        return _Rank.NAME_HAS_WORDS
    return None


def search_services(services: Iterable[Service], query: str, limit: int = 10) -> list[Service]:
    """The services that match `query`, best first (ties in code order); an empty query matches every service."""
    typed = normalize_persian(query[:MAX_QUERY_LENGTH])
    whole = matching_form(typed)
    if not whole:
        return sorted(services, key=lambda service: service.code)[:limit]
    words = [matching_form(word) for word in typed.split(" ")]
    ranked = [
        (rank, service.code, service) for service in services if (rank := _rank(service, whole, words)) is not None
    ]
    return [service for _, _, service in sorted(ranked, key=lambda item: item[:2])][:limit]
