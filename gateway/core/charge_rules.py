"""Decides whether a charge may go to the PSP: every rule of the regulator, checked before any money moves.

Pure: the registry snapshot, the tariff book and the moment are passed in. A refusal carries everything the
regulator needs to judge it (office, terminal, operator, service, requested amount, cap, time).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.core.errors import (
    CashForbidden,
    ExcessFee,
    GatewayError,
    OfficeLicenseInactive,
    OperatorNotInOffice,
    PaymentMethodInvalid,
    PspUnlicensed,
    ServiceNotAssigned,
    SettlementRowsExceeded,
    TariffRefusal,
    TerminalMismatch,
)
from gateway.core.jalali import tehran_date
from gateway.core.psp import SettlementRow
from gateway.core.recipients import RecipientId
from gateway.core.registry import Agency, Office, Operator, Psp, Registry, Service, Terminal
from gateway.core.settlement import SettlementError, build_settlement_rows
from gateway.core.tariffs import Charged, Quote, TariffBook

# The regulator's own words (000: letter 100/15131, items 6 and 7).
RULE_NO_EXCESS_FA = "اخذ هرگونه وجه مازاد ممنوع است"
RULE_LICENSED_PSP_FA = (
    "هرگونه تراکنش مالی و یا دریافت هزینه های خدمات باید صرفاً از طریق ارایه دهنده خدمات "
    "پرداخت الکترونیک (PSP) دارای مجوز از بانک مرکزی جمهوری اسلامی ایران انجام شود"
)


@dataclass(frozen=True)
class ChargeIntent:
    """A charge request after edge validation and normalisation. `payment_method` is as sent (None when missing):
    it is compared exactly, never normalised."""

    terminal_id: str
    operator_id: str
    service_code: str
    quantity: int
    extras: tuple[tuple[str, int], ...]
    recipient_name: str
    recipient_id: RecipientId
    recipient_mobile: str
    amount: int
    payment_method: str | None
    recipient_birth_date: str | None = None  # Jalali, for the civil registry inquiry only; never stored


@dataclass(frozen=True)
class Refusal:
    """A broken rule: the error the caller is answered with, and what the regulator needs to judge the attempt.
    `others` are the further rules the same request broke: each is recorded too, and the answer lists them in
    `details.other_refusals`."""

    error: GatewayError
    requested: int | None = None
    cap: int | None = None
    excess: int | None = None
    tariff_reference: str | None = None
    others: tuple[Refusal, ...] = ()

    @property
    def reason(self) -> str:
        return self.error.code


@dataclass(frozen=True)
class ChargePlan:
    terminal: Terminal
    office: Office
    operator: Operator
    service: Service
    agency: Agency
    psp: Psp
    tariff_reference: str
    breakdown: dict[str, Any]
    settlement_rows: tuple[SettlementRow, ...]
    verify_deadline: datetime


CARD = "card"
# A payment method named as the contract names methods: lower-case ASCII letters and underscores.
_METHOD_WORD = re.compile(r"[a-z][a-z_]{0,31}")


def assess_charge(
    intent: ChargeIntent, caller_terminal_id: str, registry: Registry, tariffs: TariffBook, now: datetime
) -> ChargePlan | Refusal:
    """The checks, in the order an inspector would make them. The answer names the first broken rule; every other
    rule the request broke rides along in `Refusal.others`."""
    if intent.terminal_id != caller_terminal_id:
        return Refusal(
            TerminalMismatch(param="terminal_id", details={"terminal_id": intent.terminal_id}),
            requested=intent.amount,
        )
    refusals: list[Refusal] = []
    method = _payment_method_refusal(intent)
    if method is not None:
        refusals.append(method)
    terminal = registry.terminals[intent.terminal_id]
    office = registry.offices[terminal.office_id]
    today_tehran = tehran_date(now)
    if not office.licence_active_on(today_tehran):
        refusals.append(
            Refusal(
                OfficeLicenseInactive(
                    f"The office licence is not active ({office.status}, valid "
                    f"{office.licence_valid_from.isoformat()} to {office.licence_valid_to.isoformat()}).",
                    details={
                        "office_id": office.id,
                        "status": office.status,
                        "licence_valid_to": office.licence_valid_to.isoformat(),
                    },
                ),
                requested=intent.amount,
            )
        )
    operator = registry.operators.get(intent.operator_id)
    if operator is None or operator.office_id != office.id or not operator.active:
        refusals.append(
            Refusal(
                OperatorNotInOffice(param="operator_id", details={"operator_id": intent.operator_id}),
                requested=intent.amount,
            )
        )
    service = registry.services.get(intent.service_code)
    assigned = service is not None and service.code in office.services
    if not assigned:
        refusals.append(
            Refusal(
                ServiceNotAssigned(param="service_code", details={"service_code": intent.service_code}),
                requested=intent.amount,
            )
        )
    psp = registry.psps[terminal.psp_id]
    if not psp.licensed_on(today_tehran):
        refusals.append(
            Refusal(
                PspUnlicensed(
                    details={
                        "psp_id": psp.id,
                        "licence_valid_to": psp.licence_valid_to.isoformat(),
                        "rule_fa": RULE_LICENSED_PSP_FA,
                    }
                ),
                requested=intent.amount,
            )
        )
    priced = _priced(intent, office, tariffs, now) if assigned else None
    if isinstance(priced, Refusal):
        refusals.append(priced)
    if refusals or operator is None or service is None or not isinstance(priced, tuple):
        return _together(refusals)
    quote, charged = priced
    agency = registry.agencies[service.agency_id]
    try:
        rows = build_settlement_rows(
            charged,
            agency_iban=agency.iban,
            agency_payment_id=agency.payment_id,
            office_iban=office.iban,
            row_limit=psp.capabilities.split_row_limit,
        )
    except SettlementError as error:
        return Refusal(
            SettlementRowsExceeded(str(error)), requested=intent.amount, tariff_reference=quote.approval_reference
        )
    return ChargePlan(
        terminal,
        office,
        operator,
        service,
        agency,
        psp,
        quote.approval_reference,
        charged.breakdown,
        rows,
        now + psp.capabilities.verify_deadline,
    )


def _payment_method_refusal(intent: ChargeIntent) -> Refusal | None:
    """None for exactly `card`. Another method word is the regulator's cash rule; anything else (missing, empty,
    padded, another case or script) is not a method at all."""
    method = intent.payment_method
    if method == CARD:
        return None
    if method is not None and _METHOD_WORD.fullmatch(method):
        return Refusal(
            CashForbidden(
                "Fees are collected by card through the office's PSP terminal only; cash and other methods are "
                "refused.",
                param="payment_method",
                details={"payment_method": method, "rule_fa": RULE_LICENSED_PSP_FA},
            ),
            requested=intent.amount,
        )
    return Refusal(PaymentMethodInvalid(param="payment_method"), requested=intent.amount)


def _priced(
    intent: ChargeIntent, office: Office, tariffs: TariffBook, now: datetime
) -> tuple[Quote, Charged] | Refusal:
    """The quote and the charged amount under the approved tariff, or the tariff rule the amount breaks."""
    try:
        quote = tariffs.quote(intent.service_code, intent.quantity, list(intent.extras), office.kind, now)
        return quote, quote.check(intent.amount)
    except ExcessFee as excess:
        cap, requested, over = excess.details["cap"], excess.details["requested"], excess.details["excess"]
        return Refusal(
            ExcessFee(
                f"The amount exceeds the approved tariff cap by {over} rials.",
                param="amount",
                details={
                    "cap": cap,
                    "requested": requested,
                    "excess": over,
                    "tariff_reference": quote.approval_reference,
                    "breakdown": quote.breakdown,
                    "rule_fa": RULE_NO_EXCESS_FA,
                },
            ),
            requested=requested,
            cap=cap,
            excess=over,
            tariff_reference=quote.approval_reference,
        )
    except TariffRefusal as error:
        error.param = _TARIFF_PARAMS.get(error.code)
        return Refusal(error, requested=intent.amount, tariff_reference=error.details.get("tariff_reference"))


def _together(refusals: list[Refusal]) -> Refusal:
    """The first broken rule answers; the others are named in its details and recorded with it."""
    first, others = refusals[0], tuple(refusals[1:])
    if others:
        first.error.details["other_refusals"] = [
            {"code": other.reason, "message": other.error.message, "param": other.error.param} for other in others
        ]
    return dataclasses.replace(first, others=others)


def quote_for_office(
    registry: Registry,
    tariffs: TariffBook,
    office_id: str,
    service_code: str,
    quantity: int,
    extras: list[tuple[str, int]],
    at: datetime,
) -> Quote:
    """The cap and its breakdown for a service this office offers, priced as a charge of it would be."""
    office = registry.offices[office_id]
    if service_code not in office.services:
        raise ServiceNotAssigned(param="service_code", details={"service_code": service_code})
    try:
        return tariffs.quote(service_code, quantity, extras, office.kind, at)
    except TariffRefusal as error:
        error.param = _TARIFF_PARAMS.get(error.code)
        raise


_TARIFF_PARAMS = {
    "invalid_quantity": "quantity",
    "unknown_extra": "extras",
    "below_government_fee": "amount",
    "no_tariff": "service_code",
}
