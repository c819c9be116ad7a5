"""The loop every background worker runs: a pass, again at once while passes come back full, then a pause."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def repeat_passes(
    run_once: Callable[[], Awaitable[int]], *, batch: int, interval: float, what: str, log: logging.Logger
) -> None:
    """Runs `run_once` (which returns how many items it claimed) forever. A full batch means more may be due, so the
    next pass starts at once; a failed pass is logged and retried after the pause."""
    while True:
        try:
            while await run_once() == batch:
                pass
        except Exception:
            log.exception("%s pass failed; retrying", what)
        await asyncio.sleep(interval)
