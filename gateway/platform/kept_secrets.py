"""Secrets a deployment keeps as files beside its receipt-signing keys, made on first use, so every serving process
(and every host sharing the key directory) uses the same one."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def kept_secret(key_dir: Path, name: str) -> bytes:
    """The secret in `key_dir/name`, made (32 random bytes, hex) by the first process that asks."""
    path = key_dir / name
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another serving process made it first
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
