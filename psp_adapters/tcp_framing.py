"""Message framing on a PSP TCP link: each message is preceded by its length as a 2-byte big-endian integer."""

from __future__ import annotations

import asyncio
import struct

MAX_FRAME = 0xFFFF
_HEADER = struct.Struct(">H")


class FrameError(ValueError):
    """The byte stream does not hold a well-formed frame; the link can no longer be trusted."""


def frame(payload: bytes) -> bytes:
    if not 0 < len(payload) <= MAX_FRAME:
        raise FrameError(f"a frame holds 1 to {MAX_FRAME} bytes, got {len(payload)}")
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """The next message; raises `asyncio.IncompleteReadError` when the peer closes, FrameError for an empty frame."""
    (length,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if length == 0:
        raise FrameError("empty frame")
    return await reader.readexactly(length)
