"""One card at a time per physical terminal: a Redis lock held from the push to the terminal until the charge
is completed or resolved. Keys are hash-tagged by office so they stay on one Redis Cluster slot per office."""
from __future__ import annotations

import secrets

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class TerminalLocks:
    def __init__(self, redis, hold_seconds: float) -> None:
        self.redis = redis
        self.hold_ms = int(hold_seconds * 1000)
        self._release = redis.register_script(_RELEASE)

    @staticmethod
    def _key(office_id: str, terminal_id: str) -> str:
        return f"pishkhan:{{{office_id}}}:terminal:{terminal_id}:busy"

    async def acquire(self, office_id: str, terminal_id: str) -> str | None:
        """A token to release with, or None when the terminal is serving another card."""
        token = secrets.token_hex(8)
        taken = await self.redis.set(self._key(office_id, terminal_id), token, nx=True, px=self.hold_ms)
        return token if taken else None

    async def release(self, office_id: str, terminal_id: str, token: str) -> None:
        await self._release(keys=[self._key(office_id, terminal_id)], args=[token])
