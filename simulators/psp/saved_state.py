"""The simulated PSP host's scripted state, kept in a file so that it outlives the process: each terminal's
scripted answers and PIN delay, and the faults still to be injected. Written after every change (a control request,
or a purchase or reply that used up a scripted answer or a fault) and read back at start."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from simulators.psp.faults import FaultPlan
from simulators.psp.terminals import TerminalFleet


class SavedState:
    def __init__(self, path: Path, fleet: TerminalFleet, faults: FaultPlan) -> None:
        self._path = path
        self._fleet = fleet
        self._faults = faults

    def read_back(self) -> None:
        if not self._path.exists():
            return
        saved = orjson.loads(self._path.read_bytes())
        self._fleet.restore(saved["terminals"])
        for fault in saved["faults"]:
            self._faults.add(
                fault["kind"],
                terminal_id=fault["terminal_id"],
                operation=fault["operation"],
                count=fault["remaining"],
                delay_ms=fault["delay_ms"],
            )

    def save(self) -> None:
        state = {"terminals": self._fleet.settings(), "faults": self._faults.pending()}
        partial = self._path.with_suffix(".partial")
        partial.write_bytes(orjson.dumps(state))
        os.replace(partial, self._path)  # a reader never sees half a file
