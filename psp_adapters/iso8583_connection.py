"""One persistent TCP connection to a PSP host that carries many ISO 8583 requests at once.

Each request waits for the reply with the same (request MTI, terminal id, STAN); replies may come back in any order,
so thousands of purchases can wait for their cardholders' PINs on one socket. A lost or garbled link fails every
request in flight on it, and the next request opens a new connection.
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


class Iso8583Connection:
    def __init__(self, host: str, port: int, *, connect_timeout: float) -> None:
        self._host = host
        self._port = port
        self._connect_timeout = connect_timeout
        self._writer: asyncio.StreamWriter | None = None
        self._connecting: asyncio.Task[asyncio.StreamWriter] | None = None
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
                writer = await self._connected()
                writer.write(payload)
                await writer.drain()
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
        if self._writer is not None:
            self._drop(self._writer, LinkFault("connection closed"))

    async def _connected(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            return self._writer
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect())
            self._connecting.add_done_callback(_consume_exception)
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> asyncio.StreamWriter:
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(self._host, self._port)
        except TimeoutError:
            raise LinkFault(f"connecting to {self._host}:{self._port} timed out") from None
        finally:
            self._connecting = None
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_replies(reader, writer))
        log.info("connected to PSP host %s:%s", self._host, self._port)
        return writer

    async def _read_replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
            self._drop(writer, fault)

    def _drop(self, writer: asyncio.StreamWriter, fault: LinkFault) -> None:
        if self._writer is not writer:
            return
        self._writer = None
        writer.close()
        for waiter in self._in_flight.values():
            if not waiter.done():
                waiter.set_exception(fault)


def _consume_exception(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()
