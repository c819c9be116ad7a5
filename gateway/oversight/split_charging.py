"""Split charging: one recipient charged for one service several times in a short window, so that together the
charges take more than one delivery's cap.

A charge is judged against the charges of the same office, recipient and service completed in the window before
it. The cap is the most one charge could have taken for that service at that moment: the largest quantity among
the charges and every extra any of them carried (at its largest quantity), so that a legitimate reason for a
higher single charge never counts against the office. The charge's finding is the part of it that lies over the
cap: min(its amount, window total − cap), so the findings of a burst add up to what it took over one cap.
Pure: the tariff book and the charges are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.core.errors import TariffRefusal
from gateway.core.tariffs import Quote, TariffBook


@dataclass(frozen=True)
class CompletedCharge:
    id: str
    completed_at: datetime
    amount: int
    quantity: int
    extras: tuple[tuple[str, int], ...]
    operator_id: str
    tracking_code: str | None


@dataclass(frozen=True)
class SplitFinding:
    charge: CompletedCharge  # the charge that took money over one cap
    window: tuple[CompletedCharge, ...]  # the charges in the window, oldest first, ending with `charge`
    total: int
    quote: Quote
    excess: int


def _largest_extras(charges: Sequence[CompletedCharge]) -> list[tuple[str, int]]:
    largest: dict[str, int] = {}
    for charge in charges:
        for code, quantity in charge.extras:
            largest[code] = max(quantity, largest.get(code, 0))
    return sorted(largest.items())


def split_finding(
    charge: CompletedCharge,
    earlier: Sequence[CompletedCharge],
    *,
    service_code: str,
    office_kind: str,
    tariffs: TariffBook,
) -> SplitFinding | None:
    """The finding against `charge`, given the same recipient's charges for the same service completed in the
    window before it; None when together they stay within one cap (or no tariff can price them)."""
    if not earlier:
        return None
    window = (*sorted(earlier, key=lambda c: (c.completed_at, c.id)), charge)
    total = sum(c.amount for c in window)
    try:
        quote = tariffs.quote(
            service_code, max(c.quantity for c in window), _largest_extras(window), office_kind, charge.completed_at
        )
    except TariffRefusal:
        return None
    if total <= quote.cap:
        return None
    return SplitFinding(charge, window, total, quote, min(charge.amount, total - quote.cap))
