"""Lists and downloads, the same on every route: `limit` and opaque cursors for pages of JSON, `format=csv` or
`Accept: text/csv` for the whole list as CSV, streamed from a server-side cursor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import overload

import orjson
from aiohttp import web

from gateway.core.text import normalize_persian
from gateway.platform.csv_text import csv_text
from gateway.web.errors import invalid_request

MAX_PAGE = 1000
_CSV_BATCH = 500


def wants_csv(request: web.Request) -> bool:
    chosen = request.query.get("format")
    if chosen is not None:
        if chosen not in ("json", "csv"):
            raise invalid_request("`format` must be json or csv.", param="format")
        return chosen == "csv"
    return "text/csv" in request.headers.get("Accept", "")


@overload
def page_limit(request: web.Request, default: int, maximum: int = MAX_PAGE) -> int: ...
@overload
def page_limit(request: web.Request, default: None, maximum: int = MAX_PAGE) -> int | None: ...
def page_limit(request: web.Request, default: int | None, maximum: int = MAX_PAGE) -> int | None:
    """The `limit` query parameter (digits, Persian or ASCII, 1 to `maximum`), or `default` when it is not given."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    raw = normalize_persian(raw)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum))) or not 1 <= int(raw) <= maximum:
        raise invalid_request(f"`limit` must be a whole number from 1 to {maximum}.", param="limit")
    return int(raw)


def page_cursor(request: web.Request, kind: str, types: tuple[type, ...]) -> tuple | None:
    """The sort key the `cursor` query parameter names (a `next_cursor` this list gave out), or None."""
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        return decode_cursor(kind, raw, types)
    except BadCursor as error:
        raise invalid_request(f"`cursor`: {error}.", param="cursor") from None


async def send_csv(
    request: web.Request,
    filename: str,
    columns: Sequence[str],
    rows: AsyncIterator[Mapping],
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Sends the header line, then the rows as they come, in batches. The first row is read before anything is
    sent, so a query that fails still answers in the error shape."""
    first = await anext(rows, None)
    response = web.StreamResponse(
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})}
    )
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)
    try:
        await response.write(csv_text(columns, [] if first is None else [first], header=True).encode())
        batch: list[Mapping] = []
        async for row in rows:
            batch.append(row)
            if len(batch) == _CSV_BATCH:
                await response.write(csv_text(columns, batch).encode())
                batch.clear()
        await response.write(csv_text(columns, batch).encode())
    except Exception:
        # The 200 is on its way: only a cut connection can still tell the client the file is incomplete.
        if request.transport is not None:
            request.transport.abort()
        raise
    await response.write_eof()
    return response


# ---------------------------------------------------------------- opaque cursors: the sort key of the last row returned


class BadCursor(ValueError):
    pass


def encode_cursor(kind: str, key: tuple) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(orjson.dumps([kind, *values])).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, types: tuple[type, ...]) -> tuple:
    """The key `encode_cursor(kind, key)` was given, checked against the expected value types."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise BadCursor("the cursor is not one this list gave out") from None
    if not isinstance(decoded, list) or len(decoded) != len(types) + 1 or decoded[0] != kind:
        raise BadCursor("the cursor is not one this list gave out")
    key = []
    for value, expected in zip(decoded[1:], types, strict=True):
        try:
            key.append(datetime.fromisoformat(value) if expected is datetime else value)
        except (TypeError, ValueError):
            raise BadCursor("the cursor is not one this list gave out") from None
        if not _fits(key[-1], expected):
            raise BadCursor("the cursor is not one this list gave out")
    return tuple(key)


def _fits(value, expected: type) -> bool:
    """Of the expected type, and storable as such (a bigint; text without NUL)."""
    if not isinstance(value, expected) or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return not isinstance(value, str) or ("\x00" not in value and len(value) <= 200)
