"""What every command group shares: the running dev stack's settings, the database URL, a connection for the
length of a command, instants, the public keys signatures are checked with."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import asyncpg

from gateway.platform.config import DEV_STACK_ENV, load_settings
from gateway.platform.db import connect
from receipts.keys_files import load_keyring
from receipts.signing import VerifyingKeyring

# What `pishkhan dev run` (make run) writes for the commands run beside it.
STACK_VARIABLES = ("DATABASE_URL", "REDIS_URL", "PISHKHAN_SMS_URL", "PISHKHAN_POOSHEH_URL")
_WRITER = "# written by pishkhan dev run, process "


def write_stack_env(path: Path, env: Mapping[str, str], pid: int) -> None:
    """The stack's addresses as shell assignments (`set -a; . var/dev/stack.env` exports them in a shell), and the
    process that runs the stack."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{_WRITER}{pid}", *(f"{name}={shlex.quote(env[name])}" for name in STACK_VARIABLES if env.get(name))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, under another user
    return True


def read_stack_env(path: Path) -> dict[str, str]:
    """The settings of the stack the file describes, or nothing when there is no file or its stack is gone (a
    `make run` killed without its clean-up leaves the file behind)."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0].startswith(_WRITER) or not _running(int(lines[0].removeprefix(_WRITER))):
        return {}
    pairs = (shlex.split(line)[0].partition("=") for line in lines[1:] if line)
    return {name: value for name, _, value in pairs if name in STACK_VARIABLES}


def use_running_dev_stack() -> None:
    """With DATABASE_URL unset, the running `make run` stack's settings (`var/dev/stack.env`) fill in whatever the
    environment does not set, so a command in a second terminal reaches that stack."""
    if os.environ.get("DATABASE_URL"):
        return
    for name, value in read_stack_env(DEV_STACK_ENV).items():
        os.environ.setdefault(name, value)


def database_url() -> str:
    url = load_settings().database_url
    if not url:
        sys.exit(
            f"DATABASE_URL is not set, and no dev stack is running ({DEV_STACK_ENV} is written by make run while "
            "it runs). Start make run in another terminal, or point the command at a server:\n"
            "  export DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    return url


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_url())
    try:
        yield conn
    finally:
        await conn.close()


def instant(text: str) -> datetime:
    """An RFC 3339 instant with a time zone; exits with a clear message otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        sys.exit(f"{text}: give an RFC 3339 instant with a time zone (e.g. 2025-03-21T00:00:00Z)")
    return moment


def public_keys(path: str | None) -> VerifyingKeyring:
    """From a file holding GET /v1/keys' answer (or its list), else from the configured key directory."""
    if path:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        return VerifyingKeyring.from_public_keys(document["data"] if isinstance(document, dict) else document)
    return load_keyring(load_settings().key_dir).verifying
