"""The simulated PSP host's ledger: every purchase and what became of it.

Kept in memory and, when given a file, appended to it as JSON lines as events happen. A PSP never forgets its
ledger: a host started on an existing file reads it back first (each purchase as its last event left it, and
nothing before the last reset), so a restarted simulator answers inquiries and conservation checks about the
purchases of its earlier runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from gateway.core.psp import TxnState

LedgerKey = tuple[str, str, str]  # terminal id, STAN, transmission date-time (field 7) of the purchase


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class LedgerEntry:
    terminal_id: str
    merchant_id: str
    stan: str
    transmitted: str
    amount: int
    reference: str
    settlement_rows: list[dict]
    state: TxnState = TxnState.PENDING
    response_code: str | None = None
    rrn: str | None = None
    auth_code: str | None = None
    masked_pan: str | None = None
    refund: dict | None = None  # {"rrn", "at"}: the refund instructed for this purchase, in the settlement files
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    history: list[dict] = field(default_factory=list)  # {"state", "at", "note"} per change

    @property
    def key(self) -> LedgerKey:
        return self.terminal_id, self.stan, self.transmitted

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class Ledger:
    def __init__(self, psp_id: str, path: Path | None = None) -> None:
        self._psp_id = psp_id
        self._entries: dict[LedgerKey, LedgerEntry] = {}
        self._by_reference: dict[tuple[str, str], LedgerEntry] = {}
        self._changed = asyncio.Event()
        if path is not None and path.exists():
            self._read_back(path)
        self._file = path.open("ab") if path else None

    def _read_back(self, path: Path) -> None:
        with path.open("rb") as lines:
            for line in lines:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event["event"] == "reset":
                    self._entries.clear()
                    self._by_reference.clear()
                    continue
                snapshot = event["entry"]
                key = (snapshot["terminal_id"], snapshot["stan"], snapshot["transmitted"])
                history = self._entries[key].history if key in self._entries else []
                entry = LedgerEntry(**{**snapshot, "state": TxnState(snapshot["state"]), "history": history})
                entry.history.append({"state": entry.state, "at": event["at"], "note": event["note"]})
                self._entries[key] = entry
                self._by_reference[entry.terminal_id, entry.reference] = entry

    def open(self, entry: LedgerEntry) -> LedgerEntry:
        self._entries[entry.key] = entry
        self._by_reference[entry.terminal_id, entry.reference] = entry
        self._record(entry, "received")
        return entry

    def find(self, terminal_id: str, stan: str, transmitted: str) -> LedgerEntry | None:
        return self._entries.get((terminal_id, stan, transmitted))

    def find_reference(self, terminal_id: str, reference: str) -> LedgerEntry | None:
        """The latest purchase on this terminal that carried the gateway's reference."""
        return self._by_reference.get((terminal_id, reference))

    def holds(self, entry: LedgerEntry) -> bool:
        """False once a reset has dropped the entry."""
        return self._entries.get(entry.key) is entry

    def move(self, entry: LedgerEntry, state: TxnState, note: str | None = None, **changes: object) -> None:
        entry.state = state
        for name, value in changes.items():
            setattr(entry, name, value)
        self._record(entry, note)

    def held(self) -> list[LedgerEntry]:
        return list(self._entries.values())

    def entries(self, reference: str | None = None) -> list[dict]:
        return [
            entry.as_dict() for entry in self._entries.values() if reference is None or entry.reference == reference
        ]

    async def wait_for_state(self, entry: LedgerEntry, states: frozenset[TxnState]) -> None:
        """Returns once the entry is in one of the states; the caller bounds the wait."""
        while entry.state not in states:
            await self._changed.wait()

    def reset(self) -> None:
        self._entries.clear()
        self._by_reference.clear()
        self._write({"psp_id": self._psp_id, "event": "reset", "at": _now()})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _record(self, entry: LedgerEntry, note: str | None) -> None:
        # Wake everyone waiting for a change, then arm a fresh event for the next one.
        self._changed.set()
        self._changed = asyncio.Event()
        entry.updated_at = _now()
        entry.history.append({"state": entry.state, "at": entry.updated_at, "note": note})
        snapshot = {name: value for name, value in entry.as_dict().items() if name != "history"}
        self._write(
            {"psp_id": self._psp_id, "event": entry.state, "at": entry.updated_at, "note": note, "entry": snapshot}
        )

    def _write(self, event: dict) -> None:
        if self._file is not None:
            self._file.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            self._file.flush()
