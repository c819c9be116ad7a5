"""Faults the simulated PSP host injects on request, for one terminal or all, a given number of times.

A fault is taken by the first request it matches (terminal, operation) among those of the kinds asked for. Most kinds
apply to how the reply travels: the request itself is processed as usual, so the ledger still changes. Only
TERMINAL_UNREACHABLE changes the processing: the purchase never reaches the terminal. A PSP host that is down is
not one of these: it is a state of the whole host (`front_end.Outage`).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass


class Operation(enum.StrEnum):
    """What a request asks, whatever the protocol (ISO 8583 names it by MTI, the PC-POS API by path)."""

    PURCHASE = "purchase"
    VERIFY = "verify"
    SETTLE = "settle"
    REVERSE = "reverse"
    INQUIRY = "inquiry"
    REFUND = "refund"


class FaultKind(enum.StrEnum):
    SLOW_REPLY = "slow_reply"  # the reply leaves after delay_ms
    DROP_REPLY = "drop_reply"  # no reply at all (on a purchase: the approval is lost on the way)
    DUPLICATE_REPLY = "duplicate_reply"  # the reply is sent twice (the copy delay_ms later)
    RESET_CONNECTION = "reset_connection"  # the connection is cut instead of replying
    GARBLE_REPLY = "garble_reply"  # the reply's bytes arrive corrupted
    LATE_REPLY = "late_reply"  # the reply is held until the purchase is reversed (or delay_ms passes)
    TERMINAL_UNREACHABLE = "terminal_unreachable"  # after trying for delay_ms the host answers 92, nothing charged


DELIVERY_KINDS = frozenset(FaultKind) - {FaultKind.TERMINAL_UNREACHABLE}


@dataclass
class Fault:
    fault_id: int
    kind: FaultKind
    terminal_id: str | None  # None: any terminal
    operation: Operation | None  # None: any operation
    remaining: int
    delay_ms: int = 0


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.on_change: Callable[[], None] = lambda: None  # told whenever a fault is added, used up or cleared

    def add(
        self,
        kind: str,
        *,
        terminal_id: str | None = None,
        operation: str | None = None,
        count: int = 1,
        delay_ms: int = 0,
    ) -> Fault:
        """Raises ValueError for an unknown kind or operation, a count below 1 or a negative delay."""
        if count < 1 or delay_ms < 0:
            raise ValueError("count must be at least 1 and delay_ms not negative")
        fault = Fault(
            next(self._ids),
            FaultKind(kind),
            terminal_id,
            Operation(operation) if operation is not None else None,
            count,
            delay_ms,
        )
        self._faults.append(fault)
        self.on_change()
        return fault

    def take(self, terminal_id: str, operation: Operation, kinds: Collection[FaultKind]) -> Fault | None:
        for fault in self._faults:
            if (
                fault.kind in kinds
                and fault.terminal_id in (None, terminal_id)
                and fault.operation in (None, operation)
            ):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                self.on_change()
                return fault
        return None

    def pending(self) -> list[dict]:
        return [asdict(fault) for fault in self._faults]

    def clear(self) -> None:
        self._faults.clear()
        self.on_change()
