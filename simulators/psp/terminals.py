"""The office terminals of the simulated fleet. Any terminal id exists on first use; like a physical terminal,
each serves one card at a time, and the cardholder takes the PIN-entry delay to finish."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
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
        self._entering_pins: dict[asyncio.Future[None], None] = {}  # in the order the cardholders began
        self.on_change: Callable[[], None] = lambda: None  # told of every change of a script or PIN delay

    def settings(self) -> dict[str, dict]:
        """Each terminal's script and PIN delay, as JSON-ready data."""
        return {
            terminal.terminal_id: {"pin_delay_ms": terminal.pin_delay_ms, "script": list(terminal.script)}
            for terminal in self._terminals.values()
            if terminal.script or terminal.pin_delay_ms is not None
        }

    def restore(self, settings: dict[str, dict]) -> None:
        for terminal_id, saved in settings.items():
            terminal = self.terminal(terminal_id)
            terminal.pin_delay_ms = saved["pin_delay_ms"]
            terminal.script = deque(saved["script"])

    def terminal(self, terminal_id: str) -> Terminal:
        return self._terminals.setdefault(terminal_id, Terminal(terminal_id))

    def script(self, terminal_id: str, answers: list[Answer]) -> None:
        """The answers of the next purchases on this terminal, one each; after them the deck deals again."""
        self.terminal(terminal_id).script = deque(answers)
        self.on_change()

    def set_pin_delay(self, terminal_id: str, ms: int) -> None:
        self.terminal(terminal_id).pin_delay_ms = ms
        self.on_change()

    def reset(self) -> None:
        self._terminals.clear()
        self.on_change()

    def finish_pin_entry(self, over_s: float) -> int:
        """Every cardholder still entering a PIN finishes, in the order they began, spread evenly over `over_s`
        seconds; the number of them. A purchase arriving later waits its whole delay."""
        entering = list(self._entering_pins)
        loop = asyncio.get_running_loop()
        for index, finished in enumerate(entering):
            loop.call_later(over_s * index / len(entering), _finish, finished)
        return len(entering)

    async def serve_cardholder(self, terminal_id: str) -> DeckCard:
        """The card presented for one purchase, once its holder has finished; raises TerminalBusy."""
        terminal = self.terminal(terminal_id)
        if terminal.busy:
            raise TerminalBusy(terminal_id)
        terminal.busy = True
        try:
            if terminal.script:
                card = self._deck.card_for(terminal.script.popleft())
                self.on_change()
            else:
                card = self._deck.deal()
            delay_ms = self._default_pin_delay_ms if terminal.pin_delay_ms is None else terminal.pin_delay_ms
            if delay_ms:
                await self._enter_pin(delay_ms / 1000)
            else:
                await asyncio.sleep(0)  # still a turn of the loop, in which the terminal is busy
            return card
        finally:
            terminal.busy = False

    async def _enter_pin(self, seconds: float) -> None:
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._entering_pins[finished] = None
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished, seconds)
        finally:
            del self._entering_pins[finished]


def _finish(entering: asyncio.Future[None]) -> None:
    if not entering.done():
        entering.set_result(None)
