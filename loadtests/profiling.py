"""Sampling profiles of the gateway under load with py-spy, summarised from its folded stacks ("raw" format):
the functions with the most samples on the stack (inclusive), the most samples on top (self), and self samples
by package. Idle samples (a worker waiting in its event loop) are left out by py-spy, so shares are of busy time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ENTRY_FRAME_SHARE = 0.9
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy_binary() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: Path, rate: int = 200) -> subprocess.Popen:
    """py-spy sampling `pid` and its subprocesses without pausing them, folded stacks written to `output`."""
    binary = py_spy_binary()
    if binary is None:
        raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--duration",
            str(max(1, round(seconds))),
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _location(frame: str) -> tuple[str, str] | None:
    """(function, file) of a frame; py-spy names files relative to the import path (`asyncpg/pool.py`)."""
    match = _FRAME.match(frame)
    return (match["function"], match["file"]) if match else None


def _frame_name(frame: str) -> str:
    location = _location(frame)
    return f"{location[0]} ({location[1]})" if location else frame


def _package(frame: str) -> str:
    location = _location(frame)
    if location is None or location[1].startswith("<"):
        return "other"
    return location[1].split("/")[0].removesuffix(".py")


def summarise(folded: Path, top: int = 25) -> dict:
    """Shares (per cent of busy samples) from a py-spy raw file."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    by_package: Counter = Counter()
    total = 0
    for line in folded.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
        if not frames:
            continue
        total += count
        for name in {_frame_name(frame) for frame in frames}:
            inclusive[name] += count
        own[_frame_name(frames[-1])] += count
        by_package[_package(frames[-1])] += count

    def shares(counter: Counter, limit: int) -> list[list]:
        return [[name, round(100 * count / total, 1)] for name, count in counter.most_common(limit)]

    # Frames under nearly every busy sample are the processes' entry points (main, run_app): they say nothing.
    inclusive = Counter({name: count for name, count in inclusive.items() if count < ENTRY_FRAME_SHARE * total})
    return {
        "samples": total,
        "inclusive": shares(inclusive, top) if total else [],
        "self": shares(own, top) if total else [],
        "self_by_package": shares(by_package, 15) if total else [],
    }
