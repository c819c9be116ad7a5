"""The ISO 8583 dialect and the TCP framing shared by the adapter and the simulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import iso8583
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.psp import SettlementRow
from psp_adapters import iso8583_spec as spec
from psp_adapters import shetab
from psp_adapters.tcp_framing import FrameError, frame, read_frame

MOMENT = datetime(2024, 3, 19, 21, 15, 30, tzinfo=UTC)  # 00:45:30 on 20 March in Tehran


def purchase_fields() -> dict[str, str]:
    return {
        "t": spec.PURCHASE,
        "3": spec.PROCESSING_CODE,
        "4": spec.amount_field(1_250_000),
        "7": spec.transmission_field(MOMENT),
        "11": "000042",
        **spec.local_time_fields(MOMENT),
        "41": "10000001",
        "42": "000000123456789",
        "48": "chg-01HZX",
        "49": spec.CURRENCY_RIAL,
        "62": spec.encode_settlement_rows(
            (
                SettlementRow("IR110170000000123456789001", 1_000_000, "1101004567"),
                SettlementRow("IR210120000000009876543210", 250_000, "0"),
            )
        ),
        "63": spec.encode_print_lines(("دفتر پیشخوان خدمات دولت", "مبلغ: ۱۲۵٬۰۰۰ تومان")),
        "90": spec.original_data_field(spec.OriginalData(spec.PURCHASE, "000041", "0319211000")),
    }


def test_message_round_trip_keeps_every_field():
    fields = purchase_fields()

    decoded = spec.decode_message(spec.encode_message(fields))

    assert decoded == fields
    assert spec.decode_print_lines(decoded["63"])[1] == "مبلغ: ۱۲۵٬۰۰۰ تومان"
    assert spec.parse_original_data(decoded["90"]) == spec.OriginalData("0200", "000041", "0319211000")


def test_times_are_utc_on_the_wire_and_tehran_locally():
    assert spec.transmission_field(MOMENT) == "0319211530"
    assert spec.local_time_fields(MOMENT) == {"12": "004530", "13": "0320"}
    assert spec.transmission_field(MOMENT.replace(tzinfo=None)) == "0319211530"


def test_masked_pan_travels_in_field_2():
    fields = {**purchase_fields(), "t": "0210", "39": "00", "2": shetab.mask_pan("6037991000000012")}

    assert spec.decode_message(spec.encode_message(fields))["2"] == "603799******0012"


@pytest.mark.parametrize(
    "fields",
    [
        {"41": "123456789"},  # terminal id longer than 8
        {"4": "12"},  # amount not 12 digits
        {"48": "مرجع"},  # reference is ASCII only
    ],
)
def test_fields_that_do_not_fit_are_refused(fields):
    with pytest.raises(ValueError):
        spec.encode_message({**purchase_fields(), **fields})


@pytest.mark.parametrize("amount", [0, -1, 10**12])
def test_amount_out_of_range_is_refused(amount):
    with pytest.raises(ValueError):
        spec.amount_field(amount)


def test_garbage_does_not_decode():
    with pytest.raises(iso8583.DecodeError):
        spec.decode_message(b"0210ZZZZZZZZZZZZZZZZ")


@given(st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_mask_pan_keeps_first_six_and_last_four(pan):
    masked = shetab.mask_pan(pan)

    assert (masked[:6], masked[-4:], len(masked)) == (pan[:6], pan[-4:], len(pan))
    assert sum(character.isdigit() for character in masked) == 10
    assert shetab.mask_pan(masked) == masked


_rows = st.lists(
    st.builds(
        SettlementRow,
        iban=st.text("0123456789", min_size=24, max_size=24).map("IR".__add__),
        amount=st.integers(min_value=1, max_value=10**12 - 1),
        payment_id=st.text("0123456789", min_size=1, max_size=30),
    ),
    min_size=1,
    max_size=10,
)


@given(_rows)
def test_settlement_rows_round_trip(rows):
    assert spec.decode_settlement_rows(spec.encode_settlement_rows(tuple(rows))) == tuple(rows)


@pytest.mark.parametrize("text", ["IR11;0;0", "IR11;-5;0", "IR11;12", "IR11;1.5;0"])
def test_malformed_settlement_rows_are_refused(text):
    with pytest.raises(ValueError):
        spec.decode_settlement_rows(text)


async def test_frames_split_a_byte_stream_back_into_messages():
    first, second = spec.encode_message(purchase_fields()), b"0810"
    reader = asyncio.StreamReader()
    data = frame(first) + frame(second)
    assert data[:2] == len(first).to_bytes(2, "big")
    reader.feed_data(data[:5])
    reader.feed_data(data[5:])
    reader.feed_eof()

    assert [await read_frame(reader), await read_frame(reader)] == [first, second]
    with pytest.raises(asyncio.IncompleteReadError):
        await read_frame(reader)


async def test_an_empty_frame_is_an_error():
    reader = asyncio.StreamReader()
    reader.feed_data(b"\x00\x00")

    with pytest.raises(FrameError):
        await read_frame(reader)


def test_a_payload_too_long_for_the_prefix_is_refused():
    with pytest.raises(FrameError):
        frame(b"x" * 65_536)
