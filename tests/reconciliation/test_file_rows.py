"""Reading PSP files line by line: typed records, and the first line that breaks a rule named by its number."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.reconciliation.file_rows import file_records
from psp_adapters.daily_files import FileKind, FileRejected, header_line

SETTLEMENT = (
    "psp-sadad,2025-03-05,IR560150679290810033907579,500000,220012345678902,500063000001,000001,"
    "10000003,2025-03-04T08:15:00.250Z,8f14e45f-ceea-467a-9575-0a7c4b1f1e2d"
)
FEED = (
    "psp-sadad,2025-03-04,10000003,000000210000003,000002,500063000002,750000,2025-03-04T08:16:00+03:30,00,"
    "verified,603799******0011,"
)


def _file(kind: FileKind, *lines: str, newline: str = "\n") -> bytes:
    return newline.join((header_line(kind), *lines)).encode() + newline.encode()


async def _read(data: bytes, kind: FileKind = FileKind.SETTLEMENT, chunk: int = 1 << 16) -> list[tuple]:
    async def body():
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    return [record async for record in file_records(body(), kind, "psp-sadad")]


async def _rejection(data: bytes, kind: FileKind = FileKind.SETTLEMENT) -> FileRejected:
    with pytest.raises(FileRejected) as rejected:
        await _read(data, kind)
    return rejected.value


async def test_lines_become_typed_records_that_start_with_their_line_number():
    second = SETTLEMENT.replace("500063000001", "500063000003").replace(",8f14e45f-ceea-467a-9575-0a7c4b1f1e2d", ",")
    (first, other) = await _read(_file(FileKind.SETTLEMENT, SETTLEMENT, "", second, newline="\r\n"))
    assert first == (
        2,
        "psp-sadad",
        date(2025, 3, 5),
        "IR560150679290810033907579",
        500_000,
        "220012345678902",
        "500063000001",
        "000001",
        "10000003",
        datetime(2025, 3, 4, 8, 15, 0, 250_000, UTC),
        "8f14e45f-ceea-467a-9575-0a7c4b1f1e2d",
    )
    assert other[0] == 4 and other[-1] is None  # the blank line 3 is skipped; an empty reference is none


async def test_a_refund_line_takes_its_row_back_with_a_negative_amount():
    (refund,) = await _read(_file(FileKind.SETTLEMENT, SETTLEMENT.replace(",500000,", ",-500000,")))
    assert refund[4] == -500_000


async def test_chunk_boundaries_change_nothing():
    data = _file(FileKind.SETTLEMENT, *[SETTLEMENT] * 40)
    assert await _read(data, chunk=7) == await _read(data)
    bad = _file(FileKind.SETTLEMENT, *[SETTLEMENT] * 5, SETTLEMENT.replace("IR56", "IR57"))
    assert (await _rejection(bad)).line == 7


async def test_a_feed_line_keeps_its_state_and_masked_card():
    (record,) = await _read(_file(FileKind.TERMINAL_FEED, FEED), FileKind.TERMINAL_FEED)
    assert record[0] == 2 and record[7] == 750_000 and record[10:] == ("verified", "603799******0011", None)
    assert record[8] == datetime(2025, 3, 4, 4, 46, tzinfo=UTC)


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (SETTLEMENT.replace("psp-sadad", "psp-mellat"), "psp_id 'psp-mellat' is not 'psp-sadad'"),
        (SETTLEMENT.replace("2025-03-05", "2025-02-30"), "settlement_date is not a day of the calendar"),
        (SETTLEMENT.replace("2025-03-05", "05/03/2025"), "settlement_date must be a date written YYYY-MM-DD"),
        (SETTLEMENT.replace("IR56", "IR57"), "iban has wrong check digits"),
        (SETTLEMENT.replace("IR56", "IB56"), "iban must be an Iranian IBAN (IR and 24 digits)"),
        (SETTLEMENT.replace(",500000,", ",5000.5,"), "amount must be a whole number of rials (negative for a refund)"),
        (SETTLEMENT.replace(",500000,", ",0,"), "amount must not be zero"),
        (SETTLEMENT.replace(",500000,", ",-0,"), "amount must not be zero"),
        (SETTLEMENT.replace(",500000,", ",۵۰۰۰۰۰,"), "amount must be a whole number of rials (negative for a refund)"),
        (SETTLEMENT.replace("500063000001", "50006300001"), "rrn must be 12 digits"),
        (SETTLEMENT.replace("T08:15:00.250Z", "T08:15:00"), "transaction_time must be an RFC 3339 time with an offset"),
        (SETTLEMENT.replace(",000001,", ",,"), "stan is missing"),
        (SETTLEMENT.rsplit(",", 1)[0], "10 fields expected, 9 found"),
        (SETTLEMENT + ',"open', "not CSV"),
        (SETTLEMENT.replace("8f14e45f", "8f14\te45f"), "reference must be at most 255 printable ASCII characters"),
    ],
)
async def test_the_first_line_that_breaks_a_rule_is_named(broken, problem):
    rejected = await _rejection(_file(FileKind.SETTLEMENT, SETTLEMENT, broken, SETTLEMENT))
    assert rejected.line == 3 and rejected.message.startswith(problem), rejected.message


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (FEED.replace("603799******0011", "6037991234560011"), "masked_pan must be masked"),
        (FEED.replace("500063000002", ""), "an approved, verified or settled transaction must carry its rrn"),
        (FEED.replace("verified", "lost"), "status must be one of"),
    ],
)
async def test_a_feed_line_with_a_full_card_number_or_no_rrn_for_money_taken_is_refused(broken, problem):
    rejected = await _rejection(_file(FileKind.TERMINAL_FEED, FEED, broken), FileKind.TERMINAL_FEED)
    assert rejected.line == 3 and rejected.message.startswith(problem), rejected.message


async def test_a_declined_feed_line_needs_no_rrn():
    declined = FEED.replace("500063000002", "").replace(",00,verified,", ",51,declined,")
    (record,) = await _read(_file(FileKind.TERMINAL_FEED, declined), FileKind.TERMINAL_FEED)
    assert record[6] is None and record[10] == "declined"


async def test_bytes_that_are_not_utf8_are_named_by_line_even_across_chunks():
    data = _file(FileKind.SETTLEMENT, SETTLEMENT, SETTLEMENT, SETTLEMENT.replace("8f14e45f", "8f14\xe9")).replace(
        "\xe9".encode(), b"\xe9"
    )
    for chunk in (5, 1 << 16):
        with pytest.raises(FileRejected) as rejected:
            await _read(data, chunk=chunk)
        assert (rejected.value.line, rejected.value.message) == (4, "the file is not valid UTF-8")


async def test_a_quoted_field_may_not_run_onto_the_next_line():
    data = _file(FileKind.SETTLEMENT, SETTLEMENT, SETTLEMENT.rsplit(",", 1)[0] + ',"ref', 'erence"')
    rejected = await _rejection(data)
    assert rejected.line == 3
