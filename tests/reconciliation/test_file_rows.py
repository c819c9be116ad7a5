"""Checking PSP files as they stream: the checked lines passed on for COPY, and the first line that breaks a rule
named by its number, whether a block is checked by whole columns or line by line."""

from __future__ import annotations

import pytest

from gateway.reconciliation.file_rows import FileReader
from psp_adapters.daily_files import FileKind, FileRejected, header_line

SETTLEMENT = (
    "psp-sadad,2025-03-05,IR560150679290810033907579,500000,220012345678902,500063000001,000001,"
    "10000003,2025-03-04T08:15:00.250Z,8f14e45f-ceea-467a-9575-0a7c4b1f1e2d"
)
FEED = (
    "psp-sadad,2025-03-04,10000003,000000210000003,000002,500063000002,750000,2025-03-04T08:16:00+03:30,00,"
    "verified,603799******0011,"
)
FILE_ID = 41


def _file(kind: FileKind, *lines: str, newline: str = "\n") -> bytes:
    return newline.join((header_line(kind), *lines)).encode() + newline.encode()


async def _read(data: bytes, kind: FileKind = FileKind.SETTLEMENT, chunk: int = 1 << 16) -> list[str]:
    async def body():
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    reader = FileReader(kind, "psp-sadad", FILE_ID)
    return b"".join([block async for block in reader.csv_blocks(body())]).decode().splitlines()


async def _rejection(data: bytes, kind: FileKind = FileKind.SETTLEMENT) -> FileRejected:
    with pytest.raises(FileRejected) as rejected:
        await _read(data, kind)
    return rejected.value


async def test_lines_are_passed_on_with_the_file_and_their_line_number():
    second = SETTLEMENT.replace("500063000001", "500063000003").replace(",8f14e45f-ceea-467a-9575-0a7c4b1f1e2d", ",")
    lines = await _read(_file(FileKind.SETTLEMENT, SETTLEMENT, "", second, newline="\r\n"))
    assert lines == [f"{FILE_ID},2,{SETTLEMENT}", f"{FILE_ID},4,{second}"]  # the blank line 3 is skipped


async def test_lines_checked_by_columns_and_line_by_line_come_out_alike():
    plain = [SETTLEMENT.replace("000001,", f"{n:06},") for n in range(1, 30)]
    by_columns = await _read(_file(FileKind.SETTLEMENT, *plain))
    quoted = [*plain[:-1], plain[-1].replace(",8f14e45f", ',"8f14e45f').replace("1f1e2d", '1f1e2d"')]
    line_by_line = await _read(_file(FileKind.SETTLEMENT, *quoted))  # a quote sends the block line by line
    assert by_columns == line_by_line == [f"{FILE_ID},{n},{line}" for n, line in enumerate(plain, 2)]


async def test_a_quoted_field_is_passed_on_as_plain_csv():
    quoted = SETTLEMENT.rsplit(",", 1)[0] + ',"ref, with a comma and ""quotes"""'
    (line,) = await _read(_file(FileKind.SETTLEMENT, quoted))
    assert line == f'{FILE_ID},2,{SETTLEMENT.rsplit(",", 1)[0]},"ref, with a comma and ""quotes"""'


async def test_a_refund_line_takes_its_row_back_with_a_negative_amount():
    negative = SETTLEMENT.replace(",500000,", ",-500000,")
    assert await _read(_file(FileKind.SETTLEMENT, negative)) == [f"{FILE_ID},2,{negative}"]
    zero = await _rejection(_file(FileKind.SETTLEMENT, SETTLEMENT.replace(",500000,", ",-0,")))
    assert zero.line == 2 and "must not be zero" in str(zero)


async def test_chunk_boundaries_change_nothing():
    data = _file(FileKind.SETTLEMENT, *[SETTLEMENT] * 40)
    assert await _read(data, chunk=7) == await _read(data)
    bad = _file(FileKind.SETTLEMENT, *[SETTLEMENT] * 5, SETTLEMENT.replace("IR56", "IR57"))
    assert (await _rejection(bad)).line == 7


async def test_a_file_of_many_blocks_keeps_its_line_numbers():
    many = [SETTLEMENT] * 15_000  # over two megabytes: several blocks
    lines = await _read(_file(FileKind.SETTLEMENT, *many), chunk=50_000)
    assert len(lines) == 15_000 and lines[-1] == f"{FILE_ID},15001,{SETTLEMENT}"
    bad = _file(FileKind.SETTLEMENT, *many, SETTLEMENT.replace("IR56", "IR57"), SETTLEMENT)
    assert (await _rejection(bad)).line == 15_002


async def test_a_feed_line_keeps_its_state_and_masked_card():
    declined = FEED.replace("500063000002", "").replace(",00,verified,", ",51,declined,")
    lines = await _read(_file(FileKind.TERMINAL_FEED, FEED, declined), FileKind.TERMINAL_FEED)
    assert lines == [f"{FILE_ID},2,{FEED}", f"{FILE_ID},3,{declined}"]  # a declined line needs no rrn


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (SETTLEMENT.replace("psp-sadad", "psp-mellat"), "psp_id 'psp-mellat' is not 'psp-sadad'"),
        (SETTLEMENT.replace("2025-03-05", "2025-02-30"), "settlement_date is not a day of the calendar"),
        (SETTLEMENT.replace("2025-03-05", "0000-03-05"), "settlement_date is not a day of the calendar"),
        (SETTLEMENT.replace("2025-03-05", "05/03/2025"), "settlement_date must be a date written YYYY-MM-DD"),
        (SETTLEMENT.replace("IR56", "IR57"), "iban has wrong check digits"),
        (SETTLEMENT.replace("IR56", "IB56"), "iban must be an Iranian IBAN (IR and 24 digits)"),
        (SETTLEMENT.replace(",500000,", ",5000.5,"), "amount must be a whole number of rials (negative for a refund)"),
        (SETTLEMENT.replace(",500000,", ",0,"), "amount must not be zero"),
        (SETTLEMENT.replace(",500000,", ",-0,"), "amount must not be zero"),
        (SETTLEMENT.replace(",500000,", ",۵۰۰۰۰۰,"), "amount must be a whole number of rials (negative for a refund)"),
        (SETTLEMENT.replace("500063000001", "50006300001"), "rrn must be 12 digits"),
        (SETTLEMENT.replace("500063000001", "5000630000011"), "rrn must be 12 digits"),
        (SETTLEMENT.replace("500063000001", "50006300000١"), "rrn must be 12 digits"),
        (SETTLEMENT.replace("T08:15:00.250Z", "T08:15:00"), "transaction_time must be an RFC 3339 time with an offset"),
        (
            SETTLEMENT.replace("T08:15:00.250Z", "T24:00:00Z"),
            "transaction_time must be an RFC 3339 time with an offset",
        ),
        (SETTLEMENT.replace(".250Z", "+16:00"), "transaction_time must be an RFC 3339 time with an offset"),
        (SETTLEMENT.replace("2025-03-04T", "2025-02-29T"), "transaction_time is not a real moment"),
        (SETTLEMENT.replace(",000001,", ",,"), "stan is missing"),
        (SETTLEMENT.rsplit(",", 1)[0], "10 fields expected, 9 found"),
        (SETTLEMENT + ",", "10 fields expected, 11 found"),
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
