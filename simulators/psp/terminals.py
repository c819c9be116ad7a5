"""The office terminals of the simulated fleet. Any terminal id exists on first use; like a physical terminal,
each serves one card at a time, and the cardholder takes the PIN-entry delay to finish."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from simulators.psp.cards import Answer, Deck, DeckCard


class TerminalBusy(Exception):
    """The terminal is still serving another card."""


@dataclass
class Terminal:
    terminal_id: str
    pin_delay_ms: int | None = None  # None: the fleet's default
    script: deque[Answer] = field(default_factory=deque)
    busy: bool = False


class TerminalFleet:
    def __init__(self, deck: Deck, default_pin_delay_ms: int) -> None:
        self._deck = deck
        self._default_pin_delay_ms = default_pin_delay_ms
        self._terminals: dict[str, Terminal] = {}

    def terminal(self, terminal_id: str) -> Terminal:
        return self._terminals.setdefault(terminal_id, Terminal(terminal_id))

    def script(self, terminal_id: str, answers: list[Answer]) -> None:
        """The answers of the next purchases on this terminal, one each; after them the deck deals again."""
        self.terminal(terminal_id).script = deque(answers)

    def set_pin_delay(self, terminal_id: str, ms: int) -> None:
        self.terminal(terminal_id).pin_delay_ms = ms

    def reset(self) -> None:
        self._terminals.clear()

    async def serve_cardholder(self, terminal_id: str) -> DeckCard:
        """The card presented for one purchase, once its holder has finished; raises TerminalBusy."""
        terminal = self.terminal(terminal_id)
        if terminal.busy:
            raise TerminalBusy(terminal_id)
        terminal.busy = True
        try:
            card = self._deck.card_for(terminal.script.popleft()) if terminal.script else self._deck.deal()
            delay_ms = self._default_pin_delay_ms if terminal.pin_delay_ms is None else terminal.pin_delay_ms
            await asyncio.sleep(delay_ms / 1000)
            return card
        finally:
            terminal.busy = False
