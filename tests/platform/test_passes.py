"""The background workers' loop: full passes run back to back, a short one waits, a failed one is retried."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from gateway.platform.passes import repeat_passes


async def test_full_batches_run_back_to_back_and_a_failed_pass_is_logged_and_retried(caplog):
    claimed = iter([3, 3, 1, RuntimeError("database gone"), 3, 0])
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def run_once() -> int:
        calls.append(loop.time())
        outcome = next(claimed)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with caplog.at_level(logging.ERROR):
        worker = asyncio.create_task(
            repeat_passes(run_once, batch=3, interval=0.2, what="test", log=logging.getLogger("test"))
        )
        while len(calls) < 6:
            await asyncio.sleep(0.01)
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker

    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert gaps[0] < 0.1 and gaps[1] < 0.1  # full batches: again at once
    assert gaps[2] >= 0.19 and gaps[3] >= 0.19  # a short pass, then a failed one: the pause
    assert gaps[4] < 0.1  # full again after the retry
    assert "test pass failed; retrying" in caplog.text
