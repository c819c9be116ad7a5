"""Faults the simulated PSP host injects on request, for one terminal or all, a given number of times.

A fault is taken by the first reply it matches (terminal, request MTI) and applies to how that reply travels;
the message itself is processed as usual, so the ledger still changes.
"""
from __future__ import annotations

import enum
import itertools
from dataclasses import asdict, dataclass


class FaultKind(enum.StrEnum):
    SLOW_REPLY = "slow_reply"              # the reply leaves after delay_ms
    DROP_REPLY = "drop_reply"              # no reply at all (with mti "0200": the approval is lost on the way)
    DUPLICATE_REPLY = "duplicate_reply"    # the reply is sent twice
    RESET_CONNECTION = "reset_connection"  # the connection is cut instead of replying
    GARBLE_REPLY = "garble_reply"          # the reply's bytes arrive corrupted


@dataclass
class Fault:
    fault_id: int
    kind: FaultKind
    terminal_id: str | None   # None: any terminal
    mti: str | None           # the request MTI it applies to; None: any
    remaining: int
    delay_ms: int = 0


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, kind: str, *, terminal_id: str | None = None, mti: str | None = None, count: int = 1,
            delay_ms: int = 0) -> Fault:
        """Raises ValueError for an unknown kind or a count below 1."""
        if count < 1 or delay_ms < 0:
            raise ValueError("count must be at least 1 and delay_ms not negative")
        fault = Fault(next(self._ids), FaultKind(kind), terminal_id, mti, count, delay_ms)
        self._faults.append(fault)
        return fault

    def take(self, terminal_id: str, mti: str) -> Fault | None:
        for fault in self._faults:
            if fault.terminal_id in (None, terminal_id) and fault.mti in (None, mti):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[dict]:
        return [asdict(fault) for fault in self._faults]

    def clear(self) -> None:
        self._faults.clear()
