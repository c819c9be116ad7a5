"""The regulator access log's hash chain: how an entry is hashed, and the audit that names the first break.

Each entry's hash covers the hash of the entry before it, so deleting, inserting, reordering or altering an entry
breaks the chain from there on; a head signed by the gateway (its seq and hash) pins the history up to it, so a
history rewritten consistently after the head was signed no longer reaches the signed hash. The bytes hashed are
the netstrings of the entry's fields (`<length in UTF-8 bytes>:<UTF-8>,`, an encoding with no ambiguity and no
escaping), the same bytes PostgreSQL hashes when it appends (migration 0021_access_log_chain.sql).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64  # the `prev_hash` of the first entry


def _netstring(text: str) -> bytes:
    data = text.encode("utf-8")
    return b"%d:%s," % (len(data), data)


def _entry_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AccessEntry:
    seq: int
    at: datetime
    key_id: str
    method: str
    path: str
    query: str
    status: int
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        """The hash this entry's content and `prev_hash` give, to compare with the stored `hash`."""
        return entry_hash(
            self.prev_hash, self.seq, self.at, self.key_id, self.method, self.path, self.query, self.status
        )


def entry_hash(
    prev_hash: str, seq: int, at: datetime, key_id: str, method: str, path: str, query: str, status: int
) -> str:
    fields = (prev_hash, str(seq), _entry_time(at), key_id, method, path, query, str(status))
    return hashlib.sha256(b"".join(_netstring(field) for field in fields)).hexdigest()


@dataclass(frozen=True)
class ChainPoint:
    """A (seq, hash) the chain must pass through: a signed head, or the log's current head row."""

    seq: int
    hash: str
    source: str  # where it came from, for the report


class BreakKind(StrEnum):
    SEQ_GAP = "seq_gap"  # entries are missing: deleted
    SEQ_OUT_OF_ORDER = "seq_out_of_order"  # a seq repeated or going back: inserted or reordered
    BROKEN_LINK = "broken_link"  # prev_hash is not the hash of the entry before: inserted, deleted or reordered
    ALTERED = "altered"  # the stored hash does not match the entry's content
    HEAD_MISMATCH = "head_mismatch"  # the chain passes through another hash at a signed head: history rewritten
    HEAD_BEYOND_CHAIN = "head_beyond_chain"  # a head names an entry the chain no longer reaches: entries cut off
    HEAD_SIGNATURE = "head_signature"  # a signed head whose signature does not verify


@dataclass(frozen=True)
class ChainBreak:
    kind: BreakKind
    seq: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "seq": self.seq, "detail": self.detail}


@dataclass(frozen=True)
class ChainReport:
    entries_checked: int
    heads_checked: int
    last_seq: int
    last_hash: str
    breaks: tuple[ChainBreak, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> ChainBreak | None:
        return self.breaks[0] if self.breaks else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "heads_checked": self.heads_checked,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "first_break": None if self.first_break is None else self.first_break.to_dict(),
            "breaks": [found.to_dict() for found in self.breaks],
        }


class ChainAudit:
    """Fed the entries in stored order (by seq), checks every link, every hash and every point; entries are not kept,
    so a log of any length is checked in constant memory.

    `earlier`: breaks found before the walk (heads whose signature failed). `anchor`: the last entry no longer stored
    (its months were retired, exported with their entries): the chain goes on from its seq and hash, and a point at
    or before it can no longer be walked to (a point at its seq must carry its hash)."""

    def __init__(
        self, points: Sequence[ChainPoint], earlier: Sequence[ChainBreak] = (), anchor: ChainPoint | None = None
    ) -> None:
        start = anchor.seq if anchor else 0
        self._breaks: list[ChainBreak] = list(earlier)
        for point in points:
            if anchor and point.seq == anchor.seq and point.hash != anchor.hash:
                self._break(BreakKind.HEAD_MISMATCH, point.seq, f"{point.source} disagrees with {anchor.source}")
        self._points = sorted((point for point in points if point.seq > start), key=lambda point: point.seq)
        self._pinned = {point.seq for point in self._points}
        self._reached: dict[int, str] = {}
        self._expected_seq, self._previous, self._count = start + 1, anchor.hash if anchor else GENESIS_HASH, 0

    def add(self, entry: AccessEntry) -> None:
        self._count += 1
        expected = self._expected_seq
        if entry.seq > expected:
            missing = f"{expected}" if entry.seq == expected + 1 else f"{expected} to {entry.seq - 1}"
            self._break(BreakKind.SEQ_GAP, entry.seq, f"entries {missing} are missing")
        elif entry.seq < expected:
            self._break(BreakKind.SEQ_OUT_OF_ORDER, entry.seq, f"seq {entry.seq} comes after seq {expected - 1}")
        if entry.prev_hash != self._previous:
            self._break(BreakKind.BROKEN_LINK, entry.seq, "prev_hash is not the hash of the entry stored before it")
        if entry.computed_hash() != entry.hash:
            self._break(BreakKind.ALTERED, entry.seq, "the stored hash does not match the entry")
        if entry.seq in self._pinned:
            self._reached[entry.seq] = entry.hash
        self._previous, self._expected_seq = entry.hash, entry.seq + 1

    def _break(self, kind: BreakKind, seq: int | None, detail: str) -> None:
        self._breaks.append(ChainBreak(kind, seq, detail))

    def report(self) -> ChainReport:
        last_seq = self._expected_seq - 1
        breaks = list(self._breaks)
        for point in self._points:
            reached = self._reached.get(point.seq)
            if reached is None:
                breaks.append(
                    ChainBreak(
                        BreakKind.HEAD_BEYOND_CHAIN,
                        point.seq,
                        f"{point.source} names entry {point.seq}, which the chain (ending at {last_seq}) lacks",
                    )
                )
            elif reached != point.hash:
                breaks.append(
                    ChainBreak(
                        BreakKind.HEAD_MISMATCH,
                        point.seq,
                        f"{point.source} says entry {point.seq} has hash {point.hash[:16]}..., the chain has "
                        f"{reached[:16]}...: the history up to it was rewritten",
                    )
                )
        in_chain_order = sorted(breaks, key=lambda found: (found.seq is not None, found.seq or 0))
        return ChainReport(self._count, len(self._points), last_seq, self._previous, tuple(in_chain_order))


def audit_chain(
    entries: Iterable[AccessEntry],
    points: Sequence[ChainPoint],
    earlier: Sequence[ChainBreak] = (),
    anchor: ChainPoint | None = None,
) -> ChainReport:
    audit = ChainAudit(points, earlier, anchor)
    for entry in entries:
        audit.add(entry)
    return audit.report()
