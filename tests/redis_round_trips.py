"""Redis round trips counted where they leave: every write of a command, or of a pipeline's commands, on a real
connection of redis-py in this process (the gateway's and the tests' alike), with the names of the commands it
carried. A new connection's handshake (HELLO, CLIENT SETINFO) is not counted: it is the connection's cost, not the
command's. The server's own counters cannot tell a round trip from a command
run inside a script."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from redis.asyncio.connection import AbstractConnection


def command_names(packed: bytes) -> tuple[str, ...]:
    """The command names in RESP arrays of bulk strings, as redis-py packs them."""
    names, at = [], 0
    while at < len(packed):
        line_end = packed.index(b"\r\n", at)
        parts, at = int(packed[at + 1 : line_end]), line_end + 2
        for part in range(parts):
            line_end = packed.index(b"\r\n", at)
            start = line_end + 2
            end = start + int(packed[at + 1 : line_end])
            if part == 0:
                names.append(packed[start:end].decode().upper())
            at = end + 2
    return tuple(names)


_connecting: ContextVar[bool] = ContextVar("connecting", default=False)


class RoundTrips:
    """The round trips made while recording: each the names of the commands one write carried."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, ...]] = []
        self.recording = False

    def patch(self, monkeypatch) -> None:
        send, handshake = AbstractConnection.send_packed_command, AbstractConnection.on_connect_check_health
        trips = self

        async def counted(connection, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
            if trips.recording and not _connecting.get():
                packed = command.encode() if isinstance(command, str) else command
                trips.sent.append(command_names(packed if isinstance(packed, bytes) else b"".join(packed)))
            await send(connection, command, check_health)

        async def uncounted_handshake(connection, *args, **kwargs) -> None:
            token = _connecting.set(True)
            try:
                await handshake(connection, *args, **kwargs)
            finally:
                _connecting.reset(token)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
        monkeypatch.setattr(AbstractConnection, "on_connect_check_health", uncounted_handshake)

    def start(self) -> None:
        self.sent.clear()
        self.recording = True

    def stop(self) -> list[tuple[str, ...]]:
        self.recording = False
        return list(self.sent)
