"""Offline audit of one office's receipts in export order, and the JSON lines export format.

An export is one signed receipt per line, each line the receipt's RFC 8785 form, so the SHA-256
of a line without its newline is the receipt's chain hash.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from rfc8785 import CanonicalizationError

from receipts.cancellation import is_cancellation
from receipts.canonical import canonical_bytes
from receipts.chain import genesis_hash, receipt_hash
from receipts.model import parse_timestamp
from receipts.signing import Keyring, Verdict, VerifyingKeyring


class FindingKind(StrEnum):
    # Signature verdicts, as receipts.signing.Verdict names them.
    MALFORMED = Verdict.MALFORMED.value
    UNKNOWN_KEY = Verdict.UNKNOWN_KEY.value
    ALTERED = Verdict.ALTERED.value
    KEY_NOT_VALID_AT_ISSUE = Verdict.KEY_NOT_VALID_AT_ISSUE.value
    # Chain checks.
    OFFICE_MISMATCH = "office_mismatch"
    SEQ_GAP = "seq_gap"
    SEQ_DUPLICATE = "seq_duplicate"
    SEQ_OUT_OF_ORDER = "seq_out_of_order"
    BROKEN_LINK = "broken_link"
    TIME_REVERSED = "time_reversed"
    # Cancellation receipts (receipts.cancellation).
    CANCELS_UNKNOWN = "cancels_unknown"  # names a receipt that is not earlier in the export, or is a cancellation
    CANCELS_MISMATCH = "cancels_mismatch"  # the cancelled receipt's hash is not the one the cancellation signed
    CANCELLED_TWICE = "cancelled_twice"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    position: int  # 0-based place in export order
    seq: int | None
    tracking_code: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "position": self.position,
            "seq": self.seq,
            "tracking_code": self.tracking_code,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class AuditReport:
    office_code: str | None
    receipts_checked: int
    findings: tuple[Finding, ...]
    # Inclusive (first, last) runs of sequence numbers never seen between the lowest and highest seen.
    missing_seqs: tuple[tuple[int, int], ...]
    last_hash: str | None  # hash of the last well-formed receipt: the chain head to anchor
    # The receipts voided by a cancellation in the export: {tracking code: the cancellation's tracking code}.
    voided: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_break(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "office_code": self.office_code,
            "receipts_checked": self.receipts_checked,
            "first_break": None if self.first_break is None else self.first_break.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
            "missing_seqs": [list(run) for run in self.missing_seqs],
            "last_hash": self.last_hash,
            "voided": dict(self.voided),
        }


@dataclass(frozen=True)
class _Header:
    office_code: str
    seq: int
    tracking_code: str
    issued_at: datetime
    prev_hash: str
    hash: str


def _header(signed: Any) -> _Header:
    """The chain-relevant parts of a signed receipt; ValueError when they are missing or mistyped."""
    document = signed.get("receipt") if isinstance(signed, Mapping) else None
    if not isinstance(document, Mapping):
        raise ValueError("not a signed receipt object")
    office_code, seq = document.get("office_code"), document.get("seq")
    tracking_code, prev_hash = document.get("tracking_code"), document.get("prev_hash")
    if not (
        isinstance(office_code, str)
        and type(seq) is int
        and isinstance(tracking_code, str)
        and isinstance(prev_hash, str)
    ):
        raise ValueError("office_code, seq, tracking_code or prev_hash missing or mistyped")
    try:
        chain_hash = receipt_hash(signed)
    except CanonicalizationError as exc:
        raise ValueError(str(exc)) from None
    return _Header(office_code, seq, tracking_code, parse_timestamp(document.get("issued_at")), prev_hash, chain_hash)


def _missing_runs(seen: set[int]) -> tuple[tuple[int, int], ...]:
    ordered = sorted(seen)
    return tuple((low + 1, high - 1) for low, high in itertools.pairwise(ordered) if high - low > 1)


@dataclass
class _ChainState:
    office_code: str | None = None
    previous: _Header | None = None
    max_seq: int = 0
    seen: set[int] = field(default_factory=set)
    # Every receipt so far by tracking code: (hash, is a cancellation); and the receipts cancelled so far.
    issued: dict[str, tuple[str, bool]] = field(default_factory=dict)
    voided: dict[str, str] = field(default_factory=dict)
    anchor_seq: int | None = None

    def problems(self, header: _Header) -> Iterator[tuple[FindingKind, str]]:
        previous = self.previous
        if self.office_code is not None and header.office_code != self.office_code:
            yield FindingKind.OFFICE_MISMATCH, f"office {header.office_code} in the export of office {self.office_code}"
        if previous is None:
            if header.seq == 1 and header.prev_hash != genesis_hash(header.office_code):
                yield FindingKind.BROKEN_LINK, "the first receipt does not carry the office's genesis hash"
            return
        if header.seq in self.seen:
            yield FindingKind.SEQ_DUPLICATE, f"seq {header.seq} appears again"
        elif header.seq < self.max_seq:
            yield FindingKind.SEQ_OUT_OF_ORDER, f"seq {header.seq} comes after seq {self.max_seq}"
        elif header.seq > self.max_seq + 1:
            missing = f"{self.max_seq + 1}" + (f"..{header.seq - 1}" if header.seq - 1 > self.max_seq + 1 else "")
            yield FindingKind.SEQ_GAP, f"expected seq {self.max_seq + 1}, found {header.seq} (missing {missing})"
        if header.prev_hash != previous.hash:
            yield FindingKind.BROKEN_LINK, f"prev_hash is not the hash of the preceding receipt (seq {previous.seq})"
        if header.issued_at < previous.issued_at:
            yield FindingKind.TIME_REVERSED, f"issued before the preceding receipt (seq {previous.seq})"

    def cancellation_problems(self, header: _Header, document: Mapping[str, Any]) -> Iterator[tuple[FindingKind, str]]:
        """A cancellation must name an earlier, non-cancellation receipt of the chain by its exact hash, once. A
        receipt from before the export's first one cannot be checked and is taken on trust, like the anchor."""
        cancels = document.get("cancels")
        if not isinstance(cancels, Mapping) or not isinstance(cancels.get("tracking_code"), str):
            yield FindingKind.CANCELS_UNKNOWN, "a cancellation that names no receipt"
            return
        target = cancels["tracking_code"]
        if target in self.voided:
            yield FindingKind.CANCELLED_TWICE, f"{target} was already cancelled by {self.voided[target]}"
        issued = self.issued.get(target)
        if issued is None:
            if not self._before_export(target):
                yield FindingKind.CANCELS_UNKNOWN, f"cancels {target}, which is not earlier in the chain"
        elif issued[1]:
            yield FindingKind.CANCELS_UNKNOWN, f"cancels {target}, which is itself a cancellation"
        elif issued[0] != cancels.get("hash"):
            yield FindingKind.CANCELS_MISMATCH, f"{target}'s hash is not the one this cancellation signed"
        self.voided.setdefault(target, header.tracking_code)

    def _before_export(self, tracking_code: str) -> bool:
        seq = int(tracking_code[8:17]) if len(tracking_code) == 18 and tracking_code.isdigit() else None
        return seq is not None and self.anchor_seq is not None and seq < self.anchor_seq

    def advance(self, header: _Header, cancellation: bool) -> None:
        if self.office_code is None:
            self.office_code = header.office_code
        if self.anchor_seq is None:
            self.anchor_seq = header.seq
        self.issued[header.tracking_code] = (header.hash, cancellation)
        self.previous = header
        self.max_seq = max(self.max_seq, header.seq)
        self.seen.add(header.seq)


def verify_chain(receipts: Iterable[Any], keyring: VerifyingKeyring | Keyring) -> AuditReport:
    """Check one office's signed receipts in export order: signatures, keys, sequence, links and time, and that
    each cancellation receipt names an earlier receipt of the chain by its exact hash, once.

    A receipt too malformed to place in the chain is reported and skipped, so the next one is
    linked against the last well-formed receipt. The first receipt of an export that does not
    start at seq 1 is taken as the anchor: its own link cannot be checked without its predecessor.
    """
    state = _ChainState()
    findings: list[Finding] = []
    checked = 0
    for position, signed in enumerate(receipts):
        checked += 1
        try:
            header = _header(signed)
        except ValueError as exc:
            findings.append(Finding(FindingKind.MALFORMED, position, None, None, str(exc)))
            continue
        result = keyring.verify(signed)
        if not result.ok:
            findings.append(
                Finding(FindingKind(result.verdict.value), position, header.seq, header.tracking_code, result.detail)
            )
        findings.extend(
            Finding(kind, position, header.seq, header.tracking_code, detail) for kind, detail in state.problems(header)
        )
        document = signed["receipt"]
        if is_cancellation(document):
            findings.extend(
                Finding(kind, position, header.seq, header.tracking_code, detail)
                for kind, detail in state.cancellation_problems(header, document)
            )
        state.advance(header, is_cancellation(document))
    return AuditReport(
        office_code=state.office_code,
        receipts_checked=checked,
        findings=tuple(findings),
        missing_seqs=_missing_runs(state.seen),
        last_hash=None if state.previous is None else state.previous.hash,
        voided=state.voided,
    )


def export_lines(receipts: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """One line per signed receipt, newline included, ready for `file.writelines`."""
    for signed in receipts:
        yield canonical_bytes(signed).decode("utf-8") + "\n"


def read_lines(lines: Iterable[str | bytes]) -> Iterator[Any]:
    """The receipts of an export, in order; blank lines are skipped, a line that is not JSON is a ValueError."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not JSON ({exc})") from None
