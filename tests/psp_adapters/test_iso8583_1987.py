"""The ISO 8583 dialect is ISO 8583:1987 as pyiso8583's stock ASCII spec has it: every message the adapter puts on the
wire decodes with `iso8583.specs.default_ascii`, field 63 included (an LLLVAR, not a four-digit length)."""

from __future__ import annotations

import asyncio
import contextlib

import iso8583
import pytest
from iso8583.specs import default_ascii

from psp_adapters import iso8583_spec as spec
from psp_adapters.registry import create_adapter
from psp_adapters.tcp_framing import frame, read_frame
from tests.simulators.psp_support import CAPABILITIES, new_purchase, txn_ref


def test_every_field_has_the_1987_format():
    assert set(spec.SPEC) == set(default_ascii)
    for field, stock in default_ascii.items():
        assert {key: value for key, value in spec.SPEC[field].items() if key != "desc"} == {
            key: value for key, value in stock.items() if key != "desc"
        }, field
    assert (spec.SPEC["63"]["len_type"], spec.SPEC["63"]["max_len"]) == (3, 999)


@pytest.mark.parametrize(
    "lines",
    [
        ("1101", "700000 IRR"),
        ("دفتر پیشخوان خدمات دولت ۱۲۳", "مبلغ: ۱۲۵٬۰۰۰ تومان"),
        ("100% paid", "a%0Ab", " "),
    ],
)
def test_slip_lines_travel_as_ascii_and_come_back_whole(lines):
    field = spec.encode_print_lines(lines)

    assert field.isascii() and all(0x20 <= ord(char) < 0x7F for char in field)
    assert spec.decode_print_lines(field) == lines


async def _relay(upstream_port: int, sent: list[bytes]):
    """A TCP relay in front of the host that keeps every frame the client sends."""

    async def pump_replies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        host_reader, host_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        replies = asyncio.create_task(pump_replies(host_reader, client_writer))
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                payload = await read_frame(client_reader)
                sent.append(payload)
                host_writer.write(frame(payload))
                await host_writer.drain()
        host_writer.close()
        await replies

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def test_every_message_the_adapter_sends_decodes_with_the_stock_1987_spec(psp_host):
    sent: list[bytes] = []
    relay = await _relay(psp_host.port, sent)
    port = relay.sockets[0].getsockname()[1]
    adapter = create_adapter("psp-test", "iso8583-tcp", {"host": "127.0.0.1", "port": port}, CAPABILITIES, 2.0)
    try:
        kept = new_purchase()  # Persian slip lines and two settlement rows
        ref = txn_ref(kept, await adapter.purchase(kept))
        await adapter.verify(ref)
        await adapter.settle(ref)
        await adapter.inquire(ref)
        undone = new_purchase()
        await adapter.reverse(txn_ref(undone, await adapter.purchase(undone)))
    finally:
        await adapter.close()
        relay.close()
        await relay.wait_closed()

    assert sorted({payload[:4] for payload in sent}) == [b"0200", b"0220", b"0400", b"0500", b"0600"]
    for payload in sent:
        stock, _ = iso8583.decode(payload, default_ascii)
        ours = spec.decode_message(payload)
        assert {field: value for field, value in stock.items() if field not in ("p", "1")} == ours
    purchase, _ = iso8583.decode(sent[0], default_ascii)
    assert spec.decode_print_lines(purchase["63"]) == kept.print_lines
