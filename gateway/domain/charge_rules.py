"""Decides whether a charge may go to the PSP: every rule of the regulator, checked before any money moves.

Pure: the registry snapshot, the tariff book and the moment are passed in. A refusal carries everything the
regulator needs to judge it (office, terminal, operator, service, requested amount, cap, time).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from gateway.domain.settlement import SettlementError, build_settlement_rows
from gateway.domain.tariffs import ExcessFee, TariffBook, TariffError
from gateway.registry import Agency, Office, Operator, Psp, Registry, Service, Terminal
from psp_adapters.base import SettlementRow

TEHRAN = timezone(timedelta(hours=3, minutes=30))

# The regulator's own words (000: letter 100/15131, items 6 and 7).
RULE_NO_EXCESS_FA = "اخذ هرگونه وجه مازاد ممنوع است"
RULE_LICENSED_PSP_FA = ("هرگونه تراکنش مالی و یا دریافت هزینه های خدمات باید صرفاً از طریق ارایه دهنده خدمات "
                        "پرداخت الکترونیک (PSP) دارای مجوز از بانک مرکزی جمهوری اسلامی ایران انجام شود")


@dataclass(frozen=True)
class ChargeIntent:
    """A charge request after edge validation and normalisation."""
    terminal_id: str
    operator_id: str
    service_code: str
    quantity: int
    extras: tuple[tuple[str, int], ...]
    recipient_name: str
    recipient_national_code: str
    recipient_mobile: str
    amount: int
    payment_method: str


@dataclass(frozen=True)
class Refusal:
    reason: str
    http_status: int
    error_type: str
    message: str
    param: str | None = None
    details: dict = field(default_factory=dict)
    requested: int | None = None
    cap: int | None = None
    excess: int | None = None
    tariff_reference: str | None = None

    def error_body(self) -> dict:
        return {"error": {"type": self.error_type, "code": self.reason, "message": self.message,
                          "param": self.param, "details": self.details}}


@dataclass(frozen=True)
class ChargePlan:
    terminal: Terminal
    office: Office
    operator: Operator
    service: Service
    agency: Agency
    psp: Psp
    tariff_reference: str
    breakdown: dict
    settlement_rows: tuple[SettlementRow, ...]
    verify_deadline: datetime


def assess_charge(intent: ChargeIntent, registry: Registry, tariffs: TariffBook, now: datetime) -> ChargePlan | Refusal:
    """The checks, in the order an inspector would make them. `intent.terminal_id` is the caller's own terminal."""
    if intent.payment_method != "card":
        return Refusal("cash_forbidden", 422, "payment_method_error",
                       "Fees are collected by card through the office's PSP terminal only; cash and other "
                       "methods are refused.", param="payment_method",
                       details={"payment_method": intent.payment_method, "rule_fa": RULE_LICENSED_PSP_FA},
                       requested=intent.amount)
    terminal = registry.terminals[intent.terminal_id]
    office = registry.offices[terminal.office_id]
    today_tehran = now.astimezone(TEHRAN).date()
    if not office.licence_active_on(today_tehran):
        return Refusal("office_license_inactive", 403, "permission_error",
                       f"The office licence is not active ({office.status}, valid "
                       f"{office.licence_valid_from.isoformat()} to {office.licence_valid_to.isoformat()}).",
                       details={"office_id": office.id, "status": office.status,
                                "licence_valid_to": office.licence_valid_to.isoformat()},
                       requested=intent.amount)
    operator = registry.operators.get(intent.operator_id)
    if operator is None or operator.office_id != office.id or not operator.active:
        return Refusal("operator_not_in_office", 403, "permission_error",
                       "The operator is not an active operator of this office.", param="operator_id",
                       details={"operator_id": intent.operator_id}, requested=intent.amount)
    service = registry.services.get(intent.service_code)
    if service is None or service.code not in office.services:
        return Refusal("service_not_assigned", 403, "permission_error",
                       "This service is not assigned to the office.", param="service_code",
                       details={"service_code": intent.service_code}, requested=intent.amount)
    psp = registry.psps[terminal.psp_id]
    if not psp.licensed_on(today_tehran):
        return Refusal("psp_unlicensed", 403, "permission_error",
                       "The terminal's PSP has no valid Central Bank licence today.",
                       details={"psp_id": psp.id, "licence_valid_to": psp.licence_valid_to.isoformat(),
                                "rule_fa": RULE_LICENSED_PSP_FA}, requested=intent.amount)
    try:
        quote = tariffs.quote(intent.service_code, intent.quantity, list(intent.extras), office.kind, now)
        charged = quote.check(intent.amount)
    except ExcessFee as excess:
        return Refusal("excess_fee", 422, "tariff_error",
                       f"The amount exceeds the approved tariff cap by {excess.excess} rials.", param="amount",
                       details={"cap": excess.cap, "requested": excess.requested, "excess": excess.excess,
                                "tariff_reference": quote.approval_reference, "breakdown": quote.breakdown,
                                "rule_fa": RULE_NO_EXCESS_FA},
                       requested=excess.requested, cap=excess.cap, excess=excess.excess,
                       tariff_reference=quote.approval_reference)
    except TariffError as error:
        return Refusal(error.code, 422, "tariff_error", error.message, param=_tariff_param(error.code),
                       details=dict(error.details), requested=intent.amount,
                       tariff_reference=error.details.get("tariff_reference"))
    agency = registry.agencies[service.agency_id]
    try:
        rows = build_settlement_rows(charged, agency_iban=agency.iban, agency_payment_id=agency.payment_id,
                                     office_iban=office.iban, row_limit=psp.capabilities.split_row_limit)
    except SettlementError as error:
        return Refusal("settlement_rows_exceeded", 422, "tariff_error", str(error), requested=intent.amount,
                       tariff_reference=quote.approval_reference)
    return ChargePlan(terminal, office, operator, service, agency, psp, quote.approval_reference,
                      charged.breakdown, rows, now + psp.capabilities.verify_deadline)


def _tariff_param(code: str) -> str | None:
    return {"invalid_quantity": "quantity", "unknown_extra": "extras", "below_government_fee": "amount",
            "no_tariff": "service_code"}.get(code)
