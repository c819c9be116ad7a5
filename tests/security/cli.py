"""Running the `pishkhan` command line against the test database."""

from __future__ import annotations

import asyncio
import os
import sys

from gateway.platform.config import PROJECT_ROOT


async def pishkhan(database_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def create_key(database_url: str, *args: str) -> str:
    """A new key from `pishkhan keys create ARGS`: the last line printed."""
    code, out, err = await pishkhan(database_url, "keys", "create", *args)
    assert code == 0, err
    return out.strip().splitlines()[-1]
