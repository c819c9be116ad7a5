"""The conservation check: every rial a PSP holds for the gateway ends as exactly one completed charge with one
receipt and one SMS, and every charge the gateway completed is money the PSP holds.

A live stack always has charges in flight: pending in the gateway before their PSP's verify deadline, which the
request or the recovery worker will still settle. What they show (pending here, open or verified at the PSP) is
reported apart, as in flight, not as a difference; so are charges that began while the check ran (the gateway's
charges are read before the ledgers, and a ledger entry of a charge that did not exist yet is looked up again).

The PSP side is each simulator's ledger (its control API, GET /ledger) or, after an incident, a PSP transaction file
of JSON lines: ledger entries, or the simulator's ledger events (`{"psp_id", "event", "entry": {...}}`, the last
event of a purchase wins). A PSP entry is matched to a charge by its reference (the charge id the gateway sent).
`compare` is pure; `check` reads the gateway's side; `gather_ledgers` reads the PSPs' side
(`pishkhan check-conservation`, gateway/cli/conservation.py).
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

from gateway.conservation.store import charges_for_check, charges_with_ids
from gateway.core.charge import PENDING, Status
from gateway.core.refunds import REFUND_ACCEPTED, REFUND_PENDING
from gateway.core.voids import VOID_PENDING, VoidStatus
from gateway.registry.store import read_registry

HELD = frozenset({"verified", "settled"})  # the PSP holds the money for the merchant
OPEN = frozenset({"pending", "approved"})  # the PSP's outcome is not final yet
_PENDING_CHARGE = frozenset(s.value for s in PENDING)
_PENDING_VOID = frozenset(s.value for s in VOID_PENDING)
# A void under way may or may not have reached the PSP yet; a reversed one has returned the money.
_VOID_RETURNS_MONEY = _PENDING_VOID | {VoidStatus.REVERSED.value}
_PENDING_REFUND = frozenset(s.value for s in REFUND_PENDING)
_REFUND_ACCEPTED = frozenset(s.value for s in REFUND_ACCEPTED)

KINDS = {
    "money_without_receipt": "the PSP holds the money, but the charge is not completed with a receipt",
    "settled_without_receipt": "the PSP settled the money, but the charge is not completed with a receipt",
    "money_without_charge": "the PSP holds money or an open purchase under a reference that is no gateway charge",
    "receipt_without_money": "the charge is completed, but the PSP does not hold its money (reversed, declined, "
    "unverified or missing)",
    "charged_twice": "more than one purchase of one charge holds money at the PSP",
    "receipt_count": "a completed charge without exactly one receipt, or a receipt for a charge not completed",
    "sms_count": "a completed charge without exactly one SMS in the outbox",
    "settle_mismatch": "the gateway recorded a settle the PSP does not hold",
    "amount_mismatch": "the PSP holds another amount than the charge",
    "settlement_rows_mismatch": "the PSP recorded other settlement rows than the charge carries",
    "unresolved_at_psp": "the PSP still holds the purchase approved but unverified, or pending at the terminal",
    "unresolved_charge": "the charge is still pending in the gateway",
    "void_without_reversal": "the charge is voided with a cancellation receipt, but the PSP still holds its money",
    "cancellation_count": "a voided charge without exactly one cancellation receipt and one cancellation SMS, or "
    "a cancellation receipt for a charge that is not voided",
    "unresolved_void": "a void of the charge is still pending in the gateway",
    "refund_not_at_psp": "the charge is refunded with a cancellation receipt, but the PSP holds no refund of it",
    "refund_without_record": "the PSP holds a refund of the charge that the gateway did not record as accepted",
    "unresolved_refund": "a refund of the charge is still pending in the gateway",
}
# What a charge in flight shows until it is settled; any other kind is a difference even then.
IN_FLIGHT_KINDS = frozenset(
    {"unresolved_charge", "unresolved_at_psp", "money_without_receipt", "receipt_without_money"}
)

Ledgers = Mapping[str, Sequence[Mapping]]


@dataclass(frozen=True)
class GatewayCharge:
    id: str
    psp_id: str
    terminal_id: str
    stan: str
    amount: int
    status: str
    settlement_rows: list
    settled: bool
    receipts: int
    sms_messages: int
    verify_deadline: datetime
    void_status: str | None = None  # None: never voided
    cancellation_receipts: int = 0
    cancellation_sms_messages: int = 0
    refund_status: str | None = None  # None: never refunded

    @property
    def money_returned(self) -> bool:
        """A void reversed it, or the PSP accepted its refund: it has its one cancellation receipt."""
        return self.void_status == VoidStatus.REVERSED or self.refund_status in _REFUND_ACCEPTED

    def in_flight_at(self, now: datetime) -> bool:
        return self.status in _PENDING_CHARGE and now < self.verify_deadline


@dataclass(frozen=True)
class Difference:
    kind: str  # one of KINDS
    psp_id: str
    charge_id: str | None
    detail: str


@dataclass(frozen=True)
class Report:
    differences: list[Difference]
    ledger_entries: dict[str, int]  # per PSP, the entries compared
    charges: int  # gateway charges compared
    in_flight: list[Difference]  # what charges in flight show, by the charges' ids

    @property
    def clean(self) -> bool:
        """No difference; charges in flight may still be open."""
        return not self.differences

    @property
    def in_flight_charges(self) -> list[str]:
        return sorted({d.charge_id for d in self.in_flight if d.charge_id})

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "ledger_entries": self.ledger_entries,
            "charges": self.charges,
            "in_flight_charges": self.in_flight_charges,
            "differences": [asdict(d) for d in self.differences],
            "in_flight": [asdict(d) for d in self.in_flight],
        }

    def text(self) -> str:
        entries = sum(self.ledger_entries.values())
        lines = [
            f"conservation check: {len(self.ledger_entries)} PSP ledgers ({entries} entries), "
            f"{self.charges} gateway charges"
        ]
        lines.extend(f"{d.kind}  {d.psp_id}  charge {d.charge_id or '-'}  {d.detail}" for d in self.differences)
        flying = len(self.in_flight_charges)
        if flying:
            lines.append(
                f"{flying} charges in flight (pending before their PSP's deadline, or begun during the check): "
                "not differences; check again once they are settled"
            )
        lines.append(
            "clean: every amount the PSPs hold is one completed charge with one receipt, and nothing else holds money"
            + (" or is in flight" if flying else "")
            if self.clean
            else f"{len(self.differences)} differences"
        )
        return "\n".join(lines)


def compare(
    ledgers: Mapping[str, Sequence[Mapping]], charges: Sequence[GatewayCharge], since: datetime | None = None
) -> list[Difference]:
    """Every difference between the PSPs' ledgers and the gateway's charges of those PSPs. With `since`, ledger
    entries older than it are left out unless they belong to one of `charges`."""
    by_id = {c.id: c for c in charges}
    held: defaultdict[str, list[Mapping]] = defaultdict(list)
    differences: list[Difference] = []
    for psp_id, entries in ledgers.items():
        for entry in entries:
            charge = by_id.get(entry["reference"])
            if charge is None or charge.psp_id != psp_id:
                if entry["state"] in HELD | OPEN and (since is None or _created(entry) >= since):
                    differences.append(
                        Difference(
                            "money_without_charge",
                            psp_id,
                            None,
                            f"terminal {entry['terminal_id']} STAN {entry['stan']}: {entry['amount']} rials "
                            f"{entry['state']} under reference {entry['reference']!r}",
                        )
                    )
                continue
            if entry["state"] in HELD:
                held[charge.id].append(entry)
            differences.extend(_entry_differences(psp_id, entry, charge))
    for charge in charges:
        if charge.psp_id in ledgers:
            differences.extend(_charge_differences(charge, held.get(charge.id, [])))
    return sorted(differences, key=lambda d: (d.kind, d.psp_id, d.charge_id or "", d.detail))


def split_in_flight(
    differences: Iterable[Difference],
    charges: Sequence[GatewayCharge],
    now: datetime,
    begun_during: Collection[str] = (),
) -> tuple[list[Difference], list[Difference]]:
    """(differences, in flight): what a charge in flight at `now`, or one of the `begun_during` the check, shows
    while it is still being settled is in flight; everything else stays a difference."""
    flying = {c.id for c in charges if c.in_flight_at(now)} | set(begun_during)
    differences_left: list[Difference] = []
    in_flight: list[Difference] = []
    for difference in differences:
        moving = difference.kind in IN_FLIGHT_KINDS and difference.charge_id in flying
        (in_flight if moving else differences_left).append(difference)
    return differences_left, in_flight


def _created(entry: Mapping) -> datetime:
    return datetime.fromisoformat(entry["created_at"])


def _rows(rows: Iterable[Mapping]) -> list[tuple]:
    return [(row["iban"], row["amount"], row["payment_id"]) for row in rows]


def _entry_differences(psp_id: str, entry: Mapping, charge: GatewayCharge) -> Iterable[Difference]:
    state = entry["state"]
    if entry["amount"] != charge.amount:
        yield Difference(
            "amount_mismatch", psp_id, charge.id, f"PSP {entry['amount']} rials, charge {charge.amount} rials"
        )
    if _rows(entry["settlement_rows"]) != _rows(charge.settlement_rows):
        yield Difference(
            "settlement_rows_mismatch",
            psp_id,
            charge.id,
            f"PSP {_rows(entry['settlement_rows'])}, charge {_rows(charge.settlement_rows)}",
        )
    if state in OPEN:
        yield Difference("unresolved_at_psp", psp_id, charge.id, f"{state} at the PSP, {charge.status} here")
    elif state in HELD and charge.status != Status.COMPLETED:
        kind = "settled_without_receipt" if state == "settled" else "money_without_receipt"
        yield Difference(kind, psp_id, charge.id, f"{state} at the PSP (STAN {entry['stan']}), {charge.status} here")


def _charge_differences(charge: GatewayCharge, held: list[Mapping]) -> Iterable[Difference]:
    if len(held) > 1:
        yield Difference(
            "charged_twice",
            charge.psp_id,
            charge.id,
            f"{len(held)} purchases hold money: STANs {', '.join(e['stan'] for e in held)}",
        )
    if charge.status in _PENDING_CHARGE:
        yield Difference("unresolved_charge", charge.psp_id, charge.id, f"{charge.status} here")
    if charge.status != Status.COMPLETED:
        if charge.receipts:
            yield Difference(
                "receipt_count",
                charge.psp_id,
                charge.id,
                f"{charge.receipts} receipts for a charge that is {charge.status}",
            )
        return
    yield from _void_differences(charge, held)
    yield from _refund_differences(charge, held)
    if not held and charge.void_status not in _VOID_RETURNS_MONEY:
        yield Difference(
            "receipt_without_money",
            charge.psp_id,
            charge.id,
            "completed here, but no verified or settled purchase at the PSP",
        )
    if charge.receipts != 1:
        yield Difference("receipt_count", charge.psp_id, charge.id, f"{charge.receipts} receipts")
    if charge.sms_messages != 1:
        yield Difference("sms_count", charge.psp_id, charge.id, f"{charge.sms_messages} SMS messages")
    if charge.settled and not any(e["state"] == "settled" for e in held):
        yield Difference("settle_mismatch", charge.psp_id, charge.id, "settled here, not at the PSP")


def _void_differences(charge: GatewayCharge, held: list[Mapping]) -> Iterable[Difference]:
    if charge.void_status in _PENDING_VOID:
        yield Difference("unresolved_void", charge.psp_id, charge.id, f"void {charge.void_status} here")
    if charge.void_status == VoidStatus.REVERSED and held:
        yield Difference(
            "void_without_reversal",
            charge.psp_id,
            charge.id,
            f"voided here, {', '.join(e['state'] for e in held)} at the PSP",
        )
    if charge.money_returned:
        if (charge.cancellation_receipts, charge.cancellation_sms_messages) != (1, 1):
            yield Difference(
                "cancellation_count",
                charge.psp_id,
                charge.id,
                f"{charge.cancellation_receipts} cancellation receipts, {charge.cancellation_sms_messages} SMS",
            )
    elif charge.cancellation_receipts or charge.cancellation_sms_messages:
        yield Difference(
            "cancellation_count",
            charge.psp_id,
            charge.id,
            f"{charge.cancellation_receipts} cancellation receipts for a charge whose void is {charge.void_status} "
            f"and refund {charge.refund_status}",
        )


def _refund_differences(charge: GatewayCharge, held: list[Mapping]) -> Iterable[Difference]:
    """A refund goes back through settlement: the PSP keeps holding the purchase (verified or settled) with the
    refund recorded on it."""
    refunded_at_psp = any(entry.get("refund") for entry in held)
    if charge.refund_status in _PENDING_REFUND:
        yield Difference("unresolved_refund", charge.psp_id, charge.id, f"refund {charge.refund_status} here")
    elif charge.refund_status in _REFUND_ACCEPTED and held and not refunded_at_psp:
        yield Difference("refund_not_at_psp", charge.psp_id, charge.id, f"refund {charge.refund_status} here")
    elif refunded_at_psp and charge.refund_status not in _REFUND_ACCEPTED:
        yield Difference(
            "refund_without_record", charge.psp_id, charge.id, f"refunded at the PSP; refund {charge.refund_status}"
        )


def _gateway_charge(r) -> GatewayCharge:
    return GatewayCharge(
        id=str(r["id"]),
        psp_id=r["psp_id"],
        terminal_id=r["terminal_id"],
        stan=r["stan"],
        amount=r["amount"],
        status=r["status"],
        settlement_rows=r["settlement_rows"],
        settled=r["settled"],
        receipts=r["receipts"],
        sms_messages=r["sms_messages"],
        verify_deadline=r["verify_deadline"],
        void_status=r["void_status"],
        cancellation_receipts=r["cancellation_receipts"],
        cancellation_sms_messages=r["cancellation_sms_messages"],
        refund_status=r["refund_status"],
    )


async def check(db, read_ledgers: Callable[[], Awaitable[Ledgers]], since: datetime | None = None) -> Report:
    """Compares the PSP ledgers `read_ledgers` gives with the gateway's charges of those PSPs (created since
    `since`, if given). The charges are read first, so a charge the ledgers show was either read with them or
    began during the check (it is then looked up again and counted in flight)."""
    now = datetime.now(UTC)
    charges = [_gateway_charge(r) for r in await charges_for_check(db, None, since)]
    ledgers = await read_ledgers()
    known = {c.id for c in charges}
    unknown = {entry["reference"] for entries in ledgers.values() for entry in entries} - known
    begun = [_gateway_charge(r) for r in await charges_with_ids(db, sorted(unknown), since)]
    charges = [c for c in charges + begun if c.psp_id in ledgers]
    differences, in_flight = split_in_flight(
        compare(ledgers, charges, since), charges, now, begun_during={c.id for c in begun}
    )
    return Report(differences, {psp: len(entries) for psp, entries in ledgers.items()}, len(charges), in_flight)


async def fetch_ledgers(control_urls: Mapping[str, str], session: aiohttp.ClientSession) -> dict[str, list[dict]]:
    """Each simulator's ledger from its control API; raises aiohttp.ClientError if one cannot be read."""

    async def one(url: str) -> list[dict]:
        async with session.get(url.rstrip("/") + "/ledger") as response:
            response.raise_for_status()
            return (await response.json(loads=orjson.loads))["entries"]

    ledgers = await asyncio.gather(*(one(url) for url in control_urls.values()))
    return dict(zip(control_urls, ledgers, strict=True))


def read_transaction_file(path: Path, psp_id: str | None = None) -> dict[str, list[dict]]:
    """A PSP transaction file: JSON lines of ledger entries or ledger events, each PSP's entries by purchase (the
    last line of a purchase wins). Lines name their PSP (`psp_id`), or `psp_id` is given for the whole file."""
    latest: dict[tuple, dict] = {}
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = orjson.loads(line)
            entry = record.get("entry", record)
            if "stan" not in entry:
                continue  # an event about the ledger itself, such as a reset
            psp = record.get("psp_id") or psp_id
            if psp is None:
                raise ValueError(f"{path}:{number}: the line names no PSP; give the file as PSP_ID=PATH")
            latest[(psp, entry["terminal_id"], entry["stan"], entry["transmitted"])] = entry
    ledgers: dict[str, list[dict]] = defaultdict(list)
    for (psp, *_), entry in latest.items():
        ledgers[psp].append(entry)
    return dict(ledgers)


def parse_pairs(items: Iterable[str], what: str) -> dict[str, str]:
    """PSP_ID=VALUE pairs, from repeated options or one comma-separated list."""
    pairs: dict[str, str] = {}
    for item in (part.strip() for value in items for part in value.split(",")):
        if item:
            psp_id, sep, value = item.partition("=")
            if not sep or not psp_id or not value:
                raise ValueError(f"{what} must be PSP_ID={what.upper()}, got {item!r}")
            pairs[psp_id] = value
    return pairs


def _file_spec(spec: str) -> tuple[str | None, Path]:
    """PSP_ID=PATH, or a bare PATH whose lines name their PSP."""
    psp_id, sep, path = spec.partition("=")
    return (psp_id, Path(path)) if sep and "/" not in psp_id else (None, Path(spec))


def parse_since(text: str) -> datetime:
    """An ISO 8601 moment; without a zone it is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def default_control_urls(db, endpoint_overrides: Mapping[str, tuple[str, int]]) -> dict[str, str]:
    """Each registry PSP's simulator control API, one port above its ISO port (as `make run` starts them)."""
    registry = await read_registry(db)
    urls = {}
    for psp in registry.psps.values():
        host, port = endpoint_overrides.get(psp.id, (psp.endpoint["host"], int(psp.endpoint["port"])))
        urls[psp.id] = f"http://{host}:{port + 1}"
    return urls


async def gather_ledgers(
    db, control_urls: Sequence[str], transaction_files: Sequence[str], endpoint_overrides: Mapping[str, tuple[str, int]]
) -> dict[str, list[dict]]:
    """The PSPs' side: transaction files and simulator control APIs (by default every registry PSP's)."""
    ledgers: dict[str, list[dict]] = {}
    for spec in transaction_files:
        psp_id, path = _file_spec(spec)
        for psp, entries in read_transaction_file(path, psp_id).items():
            ledgers.setdefault(psp, []).extend(entries)
    control = parse_pairs(control_urls or [os.environ.get("PISHKHAN_PSP_CONTROL", "")], "url")
    if not control and not transaction_files:
        control = await default_control_urls(db, endpoint_overrides)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        ledgers.update(await fetch_ledgers(control, session))
    return ledgers
