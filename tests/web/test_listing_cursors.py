from datetime import UTC, datetime

import pytest

from gateway.web.listing import BadCursor, decode_cursor, encode_cursor

KEY = ("11110001", datetime(2025, 1, 15, 8, 0, 0, 123456, tzinfo=UTC), 42)
TYPES = (str, datetime, int)


def test_a_cursor_gives_back_the_key_it_was_made_from():
    assert decode_cursor("violations", encode_cursor("violations", KEY), TYPES) == KEY


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor("excess-fees", KEY),  # another list's cursor
        encode_cursor("violations", ("11110001", "yesterday", 42)),
        encode_cursor("violations", ("11110001", KEY[1].isoformat(), True)),
        encode_cursor("violations", KEY[:2]),
        encode_cursor("violations", ("11110001", KEY[1], 2**63)),  # no bigint holds it
        encode_cursor("violations", ("1111\x000001", KEY[1], 42)),  # no text column holds it
        "not-base64!",
        "bm90IGpzb24",
    ],
)
def test_a_cursor_this_list_did_not_give_out_is_refused(cursor):
    with pytest.raises(BadCursor):
        decode_cursor("violations", cursor, TYPES)
