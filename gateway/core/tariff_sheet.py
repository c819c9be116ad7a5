"""The office's tariff sheet: what an office may charge for each service assigned to it at one moment, from the
approvals in force then, as the regulator requires it to be posted where customers can see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import jdatetime

from gateway.core.jalali import format_jalali_date, tehran_date
from gateway.core.registry import Office, Registry
from gateway.core.tariffs import ApprovalTable, OfficeKind, TariffBook


@dataclass(frozen=True)
class SheetExtra:
    name: str
    unit_cap: int


@dataclass(frozen=True)
class SheetRow:
    service_code: str
    service_name: str
    approval_reference: str | None  # None: no approval prices it now, so nothing may be collected for it
    government_share: int = 0
    office_fee_cap: int = 0
    extras: tuple[SheetExtra, ...] = ()

    @property
    def total_cap(self) -> int:
        """Government share plus the office fee cap, before per-unit extras."""
        return self.government_share + self.office_fee_cap


@dataclass(frozen=True)
class SheetApproval:
    reference: str
    session: str
    effective_from: str  # Jalali YYYY/MM/DD
    effective_to: str | None
    sample: bool


@dataclass(frozen=True)
class TariffSheet:
    office: Office
    at: datetime
    rows: tuple[SheetRow, ...]
    approvals: tuple[SheetApproval, ...]  # every approval a row uses, earliest first

    @property
    def day(self) -> str:
        """The Jalali day in Tehran the sheet is for."""
        return format_jalali_date(jdatetime.date.fromgregorian(date=tehran_date(self.at)))

    @property
    def licence_valid_to(self) -> str:
        return format_jalali_date(jdatetime.date.fromgregorian(date=self.office.licence_valid_to))

    @property
    def licence_active(self) -> bool:
        return self.office.licence_active_on(tehran_date(self.at))


def _approval(table: ApprovalTable) -> SheetApproval:
    header = table.document.approval
    return SheetApproval(header.reference, header.session, header.effective_from, header.effective_to, header.sample)


def tariff_sheet(registry: Registry, book: TariffBook, office_id: str, at: datetime) -> TariffSheet:
    """The sheet of `office_id` at `at`; KeyError for an unknown office."""
    office = registry.offices[office_id]
    kind = OfficeKind(office.kind)
    rows, tables = [], {}
    for code in sorted(office.services):
        name = registry.services[code].name
        table = book.table_for(code, at)
        if table is None:
            rows.append(SheetRow(code, name, None))
            continue
        tables[table.reference] = table
        tariff = table.document.services[code]
        extras = tuple(
            SheetExtra(extra.name, tariff.extra_unit_cap_for(extra_code, kind))
            for extra_code, extra in sorted(tariff.extras.items())
        )
        rows.append(
            SheetRow(code, name, table.reference, tariff.government_fee, tariff.office_fee_cap_for(kind), extras)
        )
    approvals = tuple(_approval(t) for t in sorted(tables.values(), key=lambda t: (t.period.starts_at, t.reference)))
    return TariffSheet(office, at, tuple(rows), approvals)
