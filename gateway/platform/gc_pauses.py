"""Keeping the cyclic garbage collector's full passes short. A full pass walks every tracked object of the process;
whatever runs on that process (a charge, a PSP exchange) waits for it."""

from __future__ import annotations

import gc


def freeze_start_up() -> None:
    """Leaves what start-up built (modules, the registry, the tariff book) out of every later pass: it lives as long
    as the process. With a 30,000-terminal registry a full pass over it takes about a tenth of a second."""
    gc.collect()
    gc.freeze()


def freeze_survivors_of_full_passes() -> None:
    """For a process whose heap only grows (a simulator keeps every exchange for its control API): what survived
    a full pass is frozen, so the next walks only what came since. Without it every full pass walks the whole
    heap, a tenth of a second and more once it holds some ten thousand exchanges."""
    gc.callbacks.append(_freeze_after_full_pass)


def _freeze_after_full_pass(phase: str, info: dict) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
