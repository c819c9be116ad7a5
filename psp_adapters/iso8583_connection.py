"""One persistent TCP connection to a PSP host that carries many ISO 8583 requests at once.

Each request waits for the reply with the same (request MTI, terminal id, STAN); replies may come back in any order,
so thousands of purchases can wait for their cardholders' PINs on one socket. A lost or garbled link fails every
request in flight on it, and the next request opens a new connection.

The frames of the requests made in one turn of the event loop go out together, in one write (one system call) at
the end of the turn. They are queued on the connection they were made for and never go out on another; a request
given up before the write (cancelled, past its deadline, or its connection lost) is left out of it, so nothing goes
to the PSP for a request nobody waits for any more.
"""

from __future__ import annotations

import asyncio
import logging

import iso8583

from psp_adapters.iso8583_spec import decode_message, encode_message, reply_mti
from psp_adapters.tcp_framing import FrameError, frame, read_frame

log = logging.getLogger(__name__)

MessageKey = tuple[str, str, str]


class LinkFault(Exception):
    """No usable reply: timeout, refused or lost connection, garbled frame."""


def request_key(message: dict[str, str]) -> MessageKey:
    return message["t"], message["41"], message["11"]


def _reply_key(message: dict[str, str]) -> MessageKey:
    return f"{int(message['t']) - 10:04d}", message["41"], message["11"]


class _Link:
    """One open TCP connection and the frames waiting for its next write."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._queued: list[tuple[asyncio.Future[dict[str, str]], bytes]] = []

    def send(self, reply: asyncio.Future[dict[str, str]], payload: bytes) -> None:
        """Queues a request's frame for the write at the end of this turn; `reply` is its waiter."""
        if not self._queued:
            asyncio.get_running_loop().call_soon(self._write_queued)
        self._queued.append((reply, payload))

    def _write_queued(self) -> None:
        queued, self._queued = self._queued, []
        # A done waiter is a request that gave up before its frame went out: it must not go out later.
        frames = [payload for reply, payload in queued if not reply.done()]
        if frames and not self.writer.is_closing():
            self.writer.write(b"".join(frames))


class Iso8583Connection:
    def __init__(self, host: str, port: int, *, connect_timeout: float) -> None:
        self._host = host
        self._port = port
        self._connect_timeout = connect_timeout
        self._link: _Link | None = None
        self._connecting: asyncio.Task[_Link] | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._in_flight: dict[MessageKey, asyncio.Future[dict[str, str]]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def exchange(self, request: dict[str, str], timeout: float) -> dict[str, str]:
        """Send one request and wait for its reply. Raises ValueError for a request that cannot be encoded
        (nothing is sent) and LinkFault when no usable reply came."""
        payload = frame(encode_message(request))
        key = request_key(request)
        if key in self._in_flight:
            raise LinkFault(f"a {key[0]} for terminal {key[1]} STAN {key[2]} is already in flight")
        reply = asyncio.get_running_loop().create_future()
        self._in_flight[key] = reply
        try:
            async with asyncio.timeout(timeout):
                link = await self._connected()
                await link.writer.drain()  # waits while the socket's send buffer is full
                link.send(reply, payload)
                answer = await reply
        except TimeoutError:
            raise LinkFault(f"no {reply_mti(key[0])} within {timeout:g} s") from None
        except OSError as error:
            raise LinkFault(f"connection to {self._host}:{self._port} failed: {error}") from None
        finally:
            del self._in_flight[key]
        return answer

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._link is not None:
            self._drop(self._link, LinkFault("connection closed"))

    async def _connected(self) -> _Link:
        if self._link is not None:
            return self._link
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect())
            self._connecting.add_done_callback(_consume_exception)
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Link:
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(self._host, self._port)
        except TimeoutError:
            raise LinkFault(f"connecting to {self._host}:{self._port} timed out") from None
        finally:
            self._connecting = None
        link = self._link = _Link(writer)
        self._reader_task = asyncio.create_task(self._read_replies(reader, link))
        log.info("connected to PSP host %s:%s", self._host, self._port)
        return link

    async def _read_replies(self, reader: asyncio.StreamReader, link: _Link) -> None:
        fault = LinkFault("connection closed by the PSP host")
        try:
            while True:
                reply = decode_message(await read_frame(reader))
                waiter = self._in_flight.get(_reply_key(reply))
                if waiter is None or waiter.done():
                    log.info("dropped a %s nobody waits for (late or duplicate)", reply.get("t"))
                else:
                    waiter.set_result(reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except (FrameError, iso8583.DecodeError, KeyError, ValueError) as error:
            # After a frame that does not parse the stream cannot be trusted to be in step: start over.
            fault = LinkFault(f"garbled reply from the PSP host: {error}")
            log.warning("%s", fault)
        finally:
            self._drop(link, fault)

    def _drop(self, link: _Link, fault: LinkFault) -> None:
        if self._link is not link:
            return
        self._link = None
        link.writer.close()
        for waiter in self._in_flight.values():
            if not waiter.done():
                waiter.set_exception(fault)


def _consume_exception(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()
