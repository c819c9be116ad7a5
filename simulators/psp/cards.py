"""The cardholders of the simulated terminal fleet: a deck of test cards, each with the answer its holder gives.

An answer is the response code the terminal reports (00 approved, 51/55/61 declined, 99 cancelled by the
cardholder) or NO_ANSWER when the terminal never reports back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from stdnum import luhn

from psp_adapters.shetab import APPROVED, CANCELLED

NO_ANSWER: None = None
Answer = str | None


@dataclass(frozen=True)
class DeckCard:
    pan: str
    answer: Answer


def _card(bin_and_account: str, answer: Answer) -> DeckCard:
    return DeckCard(pan=bin_and_account + luhn.calc_check_digit(bin_and_account), answer=answer)


TEST_CARDS: tuple[DeckCard, ...] = (
    _card("603799100000001", APPROVED),  # Bank Melli
    _card("610433100000002", APPROVED),  # Bank Mellat
    _card("621986100000003", APPROVED),  # Saman
    _card("589210100000004", "51"),  # Sepah: insufficient funds
    _card("627412100000005", "55"),  # EN Bank: wrong PIN
    _card("627353100000006", "61"),  # Tejarat: over the withdrawal limit
    _card("502229100000007", CANCELLED),  # Pasargad: the cardholder presses cancel
    _card("636214100000008", NO_ANSWER),  # Ayandeh: the terminal never reports back
)


def parse_answer(outcome: str) -> Answer:
    """A scripted outcome, as the control API takes it: approve, decline:NN, cancel, no_answer."""
    if outcome == "approve":
        return APPROVED
    if outcome == "cancel":
        return CANCELLED
    if outcome == "no_answer":
        return NO_ANSWER
    kind, _, code = outcome.partition(":")
    if kind == "decline" and len(code) == 2 and code.isdigit() and code != APPROVED:
        return code
    raise ValueError(f"unknown outcome {outcome!r}: use approve, decline:NN, cancel or no_answer")


class Deck:
    """Deals approving cards in turn; a scripted answer gets the deck's card for it, or a dealt card that gives it."""

    def __init__(self, cards: tuple[DeckCard, ...] = TEST_CARDS) -> None:
        self._approving = itertools.cycle([card for card in cards if card.answer == APPROVED])
        self._by_answer = {card.answer: card for card in reversed(cards) if card.answer != APPROVED}

    def deal(self) -> DeckCard:
        return next(self._approving)

    def card_for(self, answer: Answer) -> DeckCard:
        return self._by_answer.get(answer) or replace(self.deal(), answer=answer)
