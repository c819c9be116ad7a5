"""One card at a time per physical terminal: a Redis lock held from the push to the terminal until the charge
is completed or resolved. Keys are hash-tagged by office so they stay on one Redis Cluster slot per office.

The lock's value names the Idempotency-Key of the request holding it, so a duplicate of that request can tell
"my own first attempt is on this terminal" from "another card is"."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

_ACQUIRE = """
local held = redis.call('get', KEYS[1])
if held then return {0, held} end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1]}
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _holder_of(token: str) -> str:
    """The Idempotency-Key of the request whose token this is (`<random>:<key>`)."""
    return token.partition(":")[2]


@dataclass(frozen=True)
class LockAttempt:
    taken: bool
    token: str

    @property
    def holder(self) -> str:
        return _holder_of(self.token)


class TerminalLocks:
    def __init__(self, redis, hold_seconds: float) -> None:
        self.redis = redis
        self.hold_ms = int(hold_seconds * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    @staticmethod
    def _key(office_id: str, terminal_id: str) -> str:
        return f"pishkhan:{{{office_id}}}:terminal:{terminal_id}:busy"

    async def acquire(self, office_id: str, terminal_id: str, idempotency_key: str) -> LockAttempt:
        """Takes the terminal for the request with `idempotency_key`; when it is taken already, the attempt is not
        taken and carries the holder's token."""
        token = f"{secrets.token_hex(8)}:{idempotency_key}"
        taken, held = await self._acquire(keys=[self._key(office_id, terminal_id)], args=[token, self.hold_ms])
        return LockAttempt(bool(taken), held.decode() if isinstance(held, bytes) else held)

    async def holder(self, office_id: str, terminal_id: str) -> str | None:
        """The Idempotency-Key of the request holding the terminal, or None when it is free."""
        token = await self.redis.get(self._key(office_id, terminal_id))
        return None if token is None else _holder_of(token.decode())

    async def release(self, office_id: str, terminal_id: str, token: str) -> None:
        await self._release(keys=[self._key(office_id, terminal_id)], args=[token])
