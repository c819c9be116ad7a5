"""The access log's hash chain: each kind of tampering breaks it at the entry where it happened."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.access_chain import GENESIS_HASH, AccessEntry, BreakKind, ChainPoint, audit_chain, entry_hash

START = datetime(2026, 1, 1, 8, 0, 0, 123456, tzinfo=UTC)


def _chain(count: int) -> list[AccessEntry]:
    entries, previous = [], GENESIS_HASH
    for seq in range(1, count + 1):
        fields = {
            "seq": seq,
            "at": START + timedelta(seconds=seq),
            "key_id": f"reg-{seq % 2}",
            "method": "GET",
            "path": "/v1/regulator/violations",
            "query": f"office_id=1111000{seq}",
            "status": 200,
        }
        hashed = entry_hash(previous, **fields)  # type: ignore[arg-type]
        entries.append(AccessEntry(**fields, prev_hash=previous, hash=hashed))  # type: ignore[arg-type]
        previous = hashed
    return entries


def _rehashed(entries: list[AccessEntry], start: int) -> list[AccessEntry]:
    """A consistent rewrite from index `start` on: what an operator with the database to hand could produce."""
    result = entries[:start]
    previous = result[-1].hash if result else GENESIS_HASH
    for entry in entries[start:]:
        moved = dataclasses.replace(entry, prev_hash=previous)
        moved = dataclasses.replace(moved, hash=moved.computed_hash())
        result.append(moved)
        previous = moved.hash
    return result


def test_the_hash_covers_every_field_through_an_unambiguous_encoding():
    entry = _chain(1)[0]
    assert entry.computed_hash() == entry.hash
    for change in (
        {"key_id": "reg-9"},
        {"method": "POST"},
        {"path": "/v1/regulator/excess-fees"},
        {"query": ""},
        {"status": 403},
        {"at": START},
        {"seq": 2},
        {"prev_hash": "1" * 64},
    ):
        assert dataclasses.replace(entry, **change).computed_hash() != entry.hash, change
    # Moving text between fields changes the bytes hashed (netstrings carry each field's length).
    split = dataclasses.replace(entry, path="/v1/a", query="b")
    assert split.computed_hash() != dataclasses.replace(entry, path="/v1/", query="ab").computed_hash()


def test_an_untouched_chain_and_its_heads_pass():
    entries = _chain(6)
    report = audit_chain(entries, [ChainPoint(3, entries[2].hash, "head"), ChainPoint(6, entries[5].hash, "head")])
    assert report.ok and report.entries_checked == 6 and report.last_seq == 6 and report.last_hash == entries[5].hash


def _deleted(entries):
    return [*entries[:2], *entries[3:]]


def _inserted(entries):
    """A forged entry at seq 3, consistent with the entry before it; the later entries renumbered after it."""
    forged = dataclasses.replace(entries[2], key_id="someone-else", prev_hash=entries[1].hash)
    forged = dataclasses.replace(forged, hash=forged.computed_hash())
    return [*entries[:2], forged, *(dataclasses.replace(e, seq=e.seq + 1) for e in entries[2:])]


def _reordered(entries):
    """Entries 3 and 4 swap places (each takes the other's seq), as rows ordered by seq would show it."""
    third, fourth = entries[2], entries[3]
    return [*entries[:2], dataclasses.replace(fourth, seq=3), dataclasses.replace(third, seq=4), *entries[4:]]


def _altered(entries):
    return [*entries[:2], dataclasses.replace(entries[2], key_id="someone-else"), *entries[3:]]


@pytest.mark.parametrize(
    ("tamper", "kind", "seq"),
    [
        (_deleted, BreakKind.SEQ_GAP, 4),
        (_inserted, BreakKind.BROKEN_LINK, 4),
        (_reordered, BreakKind.BROKEN_LINK, 3),
        (_altered, BreakKind.ALTERED, 3),
    ],
    ids=["delete", "insert", "reorder", "alter"],
)
def test_each_kind_of_tampering_is_named_at_its_entry(tamper, kind, seq):
    report = audit_chain(tamper(_chain(6)), [])
    assert not report.ok
    assert (report.first_break.kind, report.first_break.seq) == (kind, seq)


def test_a_consistent_rewrite_is_caught_by_a_head_signed_before_it():
    entries = _chain(6)
    kept_head = ChainPoint(5, entries[4].hash, "kept signed head")
    rewritten = _rehashed([entries[0], dataclasses.replace(entries[1], query="nothing-to-see"), *entries[2:]], 1)
    assert audit_chain(rewritten, []).ok  # on its own the rewrite holds together
    report = audit_chain(rewritten, [kept_head])
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.HEAD_MISMATCH, 5)
    truncated = audit_chain(entries[:4], [kept_head])
    assert (truncated.first_break.kind, truncated.first_break.seq) == (BreakKind.HEAD_BEYOND_CHAIN, 5)


def test_a_chain_whose_first_months_were_retired_goes_on_from_its_anchor():
    entries = _chain(6)
    anchor = ChainPoint(3, entries[2].hash, "the retired entries' last")
    heads = [ChainPoint(2, entries[1].hash, "head"), ChainPoint(6, entries[5].hash, "head")]
    report = audit_chain(entries[3:], heads, anchor=anchor)
    assert report.ok and report.entries_checked == 3 and report.last_seq == 6, report.breaks
    assert not audit_chain(entries[3:], heads).ok  # without the anchor the first three are missing
    forged = audit_chain(entries[3:], heads, anchor=ChainPoint(3, "1" * 64, "a forged anchor"))
    assert [found.kind for found in forged.breaks] == [BreakKind.BROKEN_LINK]
    disagreeing = audit_chain(entries[3:], [ChainPoint(3, "2" * 64, "head")], anchor=anchor)
    assert [found.kind for found in disagreeing.breaks] == [BreakKind.HEAD_MISMATCH]
