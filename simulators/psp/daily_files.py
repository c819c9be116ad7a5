"""The simulated PSP's daily files, written from its ledger in the formats of docs/reconciliation.md.

    POST /daily-files   {"kind": "settlement" | "terminal_feed", "date": "YYYY-MM-DD",
                         "settlement_date": "YYYY-MM-DD",      settlement only; default: the next day
                         "settled_only": false,                settlement only; true: leave out purchases that
                                                               were verified but never settled by a settle call
                         "adjustments": [{"rrn": "...", "row": 0, "omit": true | "amount": 1 | "iban": "IR.." |
                                          "settlement_date": "YYYY-MM-DD"}, ...]}
    → text/csv

`date` is the business day in Asia/Tehran: the file covers the purchases the host received that day. The
settlement file settles every verified (or settled) purchase to the rows it carried; a purchase that carried no
settlement rows has no account on record here and is left out. A refund instructed that day takes every row back:
one line per row with the amount negative, the refund's own RRN, and its time as the transaction time. The
terminal feed lists every purchase in whatever state it is. Adjustments make the PSP get a purchase's settlement
wrong, as real files sometimes do: leave a row out, settle another amount, to another IBAN, or on another date
(`row` picks one settlement row of the purchase, counting from 0; without it the change applies to all of them;
a refund's lines are addressed by the refund's RRN).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from aiohttp import web

from gateway.core.jalali import tehran_date
from gateway.core.psp import TxnState
from psp_adapters.daily_files import COLUMNS, FileKind
from simulators.psp.ledger import Ledger

_SETTLED_BY_HOST = (TxnState.VERIFIED, TxnState.SETTLED)


@dataclass(frozen=True)
class Adjustment:
    rrn: str
    row: int | None = None
    omit: bool = False
    amount: int | None = None
    iban: str | None = None
    settlement_date: date | None = None

    def applies_to(self, rrn: str, row: int) -> bool:
        return self.rrn == rrn and self.row in (None, row)


@dataclass(frozen=True)
class SettlementLine:
    iban: str
    amount: int
    payment_id: str
    settlement_date: date


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _utc_text(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _of_day(entries: Iterable[Mapping], day: date) -> Iterator[Mapping]:
    return (entry for entry in entries if tehran_date(_instant(entry["created_at"])) == day)


def _adjusted(line: SettlementLine, adjustments: Sequence[Adjustment], rrn: str, row: int) -> SettlementLine | None:
    for adjustment in adjustments:
        if not adjustment.applies_to(rrn, row):
            continue
        if adjustment.omit:
            return None
        line = replace(
            line,
            amount=adjustment.amount or line.amount,
            iban=adjustment.iban or line.iban,
            settlement_date=adjustment.settlement_date or line.settlement_date,
        )
    return line


def settlement_file(
    psp_id: str,
    entries: Iterable[Mapping],
    day: date,
    *,
    settlement_date: date | None = None,
    settled_only: bool = False,
    adjustments: Sequence[Adjustment] = (),
) -> str:
    states = (TxnState.SETTLED,) if settled_only else _SETTLED_BY_HOST
    paid_on = settlement_date or day + timedelta(days=1)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS[FileKind.SETTLEMENT])
    entries = list(entries)
    for entry in _of_day(entries, day):
        if entry["state"] in states:
            _write_lines(writer, psp_id, entry, entry["rrn"], _instant(entry["created_at"]), 1, paid_on, adjustments)
    for entry in entries:
        refund = entry.get("refund")
        if refund and tehran_date(_instant(refund["at"])) == day:
            _write_lines(writer, psp_id, entry, refund["rrn"], _instant(refund["at"]), -1, paid_on, adjustments)
    return buffer.getvalue()


def _write_lines(
    writer,
    psp_id: str,
    entry: Mapping,
    rrn: str,
    transacted: datetime,
    sign: int,
    paid_on: date,
    adjustments: Sequence[Adjustment],
) -> None:
    """One line per settlement row of the purchase: paid to its account (sign 1), or taken back by a refund (-1)."""
    for index, row in enumerate(entry["settlement_rows"]):
        line = _adjusted(
            SettlementLine(row["iban"], sign * row["amount"], row["payment_id"], paid_on), adjustments, rrn, index
        )
        if line is not None:
            writer.writerow(
                (
                    psp_id,
                    line.settlement_date.isoformat(),
                    line.iban,
                    line.amount,
                    line.payment_id,
                    rrn,
                    entry["stan"],
                    entry["terminal_id"],
                    _utc_text(transacted),
                    entry["reference"],
                )
            )


def terminal_feed(psp_id: str, entries: Iterable[Mapping], day: date) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS[FileKind.TERMINAL_FEED])
    for entry in _of_day(entries, day):
        writer.writerow(
            (
                psp_id,
                day.isoformat(),
                entry["terminal_id"],
                entry["merchant_id"],
                entry["stan"],
                entry["rrn"] or "",
                entry["amount"],
                _utc_text(_instant(entry["created_at"])),
                entry["response_code"] or "",
                entry["state"],
                entry["masked_pan"] or "",
                entry["reference"],
            )
        )
    return buffer.getvalue()


def _adjustment(spec: Mapping) -> Adjustment:
    known = {"rrn", "row", "omit", "amount", "iban", "settlement_date"}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("rrn"), str) or set(spec) - known:
        raise ValueError(f"an adjustment is {{'rrn': ..., and some of {sorted(known - {'rrn'})}}}, got {spec!r}")
    paid_on = spec.get("settlement_date")
    return Adjustment(
        rrn=spec["rrn"],
        row=spec.get("row"),
        omit=bool(spec.get("omit", False)),
        amount=spec.get("amount"),
        iban=spec.get("iban"),
        settlement_date=date.fromisoformat(paid_on) if paid_on else None,
    )


def daily_file_handler(psp_id: str, ledger: Ledger):
    """The control API's POST /daily-files for this host."""

    async def daily_file(request: web.Request) -> web.Response:
        body = await request.json()
        kind = FileKind(body["kind"])
        day = date.fromisoformat(body["date"])
        entries = ledger.entries()
        if kind is FileKind.SETTLEMENT:
            paid_on = body.get("settlement_date")
            text = settlement_file(
                psp_id,
                entries,
                day,
                settlement_date=date.fromisoformat(paid_on) if paid_on else None,
                settled_only=bool(body.get("settled_only", False)),
                adjustments=[_adjustment(spec) for spec in body.get("adjustments", [])],
            )
        else:
            text = terminal_feed(psp_id, entries, day)
        return web.Response(text=text, content_type="text/csv", charset="utf-8")

    return daily_file
