"""Imports one PSP daily file, streamed: the bytes are hashed and checked as they arrive, and the checked lines go
on to PostgreSQL's COPY at once. All of the file is kept or none of it: a line that breaks a
rule aborts the transaction, and a file whose digest was imported before for the same PSP changes nothing."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.core.jalali import format_utc
from gateway.reconciliation import store
from psp_adapters.daily_files import FileKind, FileRejected, kind_of_header

_MAX_HEADER_BYTES = 4096


@dataclass(frozen=True)
class ImportedFile:
    file_id: int
    psp_id: str
    kind: FileKind
    digest: str
    rows: int
    size: int
    source: str
    imported_at: datetime
    created: bool  # False: the same file was imported before, and nothing changed now
    offbook_rows: int = 0  # terminal feeds: lines kept as off-book transactions by this import

    def view(self) -> dict:
        return {
            "object": "psp_file",
            "id": self.file_id,
            "psp_id": self.psp_id,
            "kind": self.kind.value,
            "digest": self.digest,
            "rows": self.rows,
            "bytes": self.size,
            "source": self.source,
            "imported_at": format_utc(self.imported_at),
            "created": self.created,
            "offbook_rows": self.offbook_rows,
        }


class _Digest:
    """Counts and hashes the bytes that pass through it."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    async def passing(self, first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        self._take(first)
        yield first
        async for chunk in rest:
            self._take(chunk)
            yield chunk

    def _take(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.size += len(chunk)


class _AlreadyImported(Exception):
    """Rolls the import back: this PSP's file with the same digest is already kept."""


@dataclass(frozen=True)
class _Opening:
    kind: FileKind
    first_psp_id: str | None  # the first data line's psp_id, when it came with the first chunks
    buffered: bytes


async def _opening(chunks: AsyncIterator[bytes]) -> _Opening:
    """Reads until the header line is complete (and the next line, when it comes in the same read)."""
    buffered = b""
    while b"\n" not in buffered:
        chunk = await anext(chunks, None)
        if chunk is None:
            break
        buffered += chunk
        if len(buffered) > _MAX_HEADER_BYTES and b"\n" not in buffered:
            raise FileRejected(1, "the header line is too long")
    if not buffered:
        raise FileRejected(None, "the file is empty")
    header, _, rest = buffered.partition(b"\n")
    try:
        kind = kind_of_header(header.decode("utf-8"))
    except UnicodeDecodeError:
        raise FileRejected(1, "the file is not valid UTF-8") from None
    first_line = rest.partition(b"\n")[0].decode("utf-8", "replace")
    first_fields = next(csv.reader(io.StringIO(first_line)), None)
    return _Opening(kind, first_fields[0] if first_fields else None, buffered)


async def import_psp_file(
    conn: asyncpg.Connection,
    chunks: AsyncIterable[bytes],
    *,
    psp_id: str | None,
    expected_kind: FileKind | None,
    source: str,
    imported_by: str,
) -> ImportedFile:
    """Imports the file whose bytes `chunks` yields. `psp_id` None takes the PSP named on the first line;
    `expected_kind` None takes the kind the header tells. Raises FileRejected for a file that breaks a rule."""
    stream = aiter(chunks)
    opening = await _opening(stream)
    if expected_kind is not None and opening.kind is not expected_kind:
        raise FileRejected(1, f"the header is a {opening.kind.value} file's, not a {expected_kind.value} file's")
    if psp_id is None:
        if opening.first_psp_id is None:
            raise FileRejected(None, "the file has no line that names its PSP; name the PSP")
        psp_id = opening.first_psp_id
    if not await store.psp_exists(conn, psp_id):
        raise FileRejected(None, f"no PSP {psp_id!r} in the registry")
    # (pyarrow is loaded by the processes that import files, not by every process of the gateway.)
    from gateway.reconciliation.file_rows import FileReader

    digest = _Digest()
    try:
        async with conn.transaction():
            if opening.kind is FileKind.SETTLEMENT:
                await store.take_settlement_turn(conn, psp_id)
            file_id = await store.new_file_id(conn)
            rows = await store.copy_lines(
                conn, FileReader(opening.kind, psp_id, file_id), digest.passing(opening.buffered, stream)
            )
            recorded = await store.record_file(
                conn,
                file_id=file_id,
                psp_id=psp_id,
                kind=opening.kind,
                digest=digest.sha256.hexdigest(),
                rows=rows,
                size=digest.size,
                source=source,
                imported_by=imported_by,
            )
            if not recorded:
                raise _AlreadyImported()
            if opening.kind is FileKind.SETTLEMENT:
                await store.keep_repeats(conn, file_id, psp_id)
                await store.settle_refunds(conn, file_id)
            offbook = (
                await store.keep_offbook_transactions(conn, file_id) if opening.kind is FileKind.TERMINAL_FEED else 0
            )
            record = await store.get_file(conn, file_id)
    except _AlreadyImported:
        return _imported(await store.find_file(conn, psp_id, digest.sha256.hexdigest()), created=False)
    return _imported(record, created=True, offbook_rows=offbook)


def _imported(record, *, created: bool, offbook_rows: int = 0) -> ImportedFile:
    return ImportedFile(
        file_id=record["id"],
        psp_id=record["psp_id"],
        kind=FileKind(record["kind"]),
        digest=record["digest"],
        rows=record["rows"],
        size=record["bytes"],
        source=record["source"],
        imported_at=record["imported_at"],
        created=created,
        offbook_rows=offbook_rows,
    )
