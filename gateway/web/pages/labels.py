"""The Persian names the pages give machine codes: a charge's status, why a charge request was refused, a complaint's
status, an objection's state and its history's events, an office's kind and licence status. One table for every
page (the templates' `label` filter); the API keeps answering with the codes themselves."""

from __future__ import annotations

import logging

from gateway.complaints.rules import STATUSES as COMPLAINT_STATUSES
from gateway.core import errors
from gateway.core.charge import Status

log = logging.getLogger(__name__)

CHARGE_STATUSES = {
    Status.CREATED: "ثبت شد؛ هنوز به پایانه نرفته",
    Status.SENT: "روی پایانه، در انتظار کارت",
    Status.AUTHORIZED: "پذیرفتهٔ بانک، در انتظار تأیید نهایی",
    Status.VERIFIED: "تأیید نهایی، در انتظار رسید",
    Status.COMPLETED: "انجام شد",
    Status.DECLINED: "کارت پذیرفته نشد",
    Status.CANCELLED: "لغو به دست دارندهٔ کارت",
    Status.EXPIRED: "مهلت گذشت؛ وجهی برداشت نشد",
    Status.REVERSED: "برگشت خورد؛ وجه به کارت بازگشت",
    Status.FAILED: "ناموفق؛ وجهی برداشت نشد",
}

# Every rule the charge path refuses a request for (gateway/core/charge_rules.py), by the error code it records.
REFUSAL_REASONS = {
    error.code: text
    for error, text in (
        (errors.TerminalMismatch, "پایانهٔ دیگری جز پایانهٔ کلید"),
        (errors.OfficeLicenseInactive, "پروانهٔ دفتر معتبر نیست"),
        (errors.OperatorNotInOffice, "متصدی از این دفتر نیست"),
        (errors.ServiceNotAssigned, "خدمت به دفتر واگذار نشده"),
        (errors.PspUnlicensed, "PSP پایانه مجوز معتبر بانک مرکزی ندارد"),
        (errors.CashForbidden, "درخواست پرداخت نقدی"),
        (errors.PaymentMethodInvalid, "روش پرداخت نادرست"),
        (errors.TariffRefusal, "خلاف تعرفه"),
        (errors.ExcessFee, "مبلغ بیش از سقف تعرفه"),
        (errors.BelowGovernmentFee, "مبلغ کمتر از سهم دولت"),
        (errors.InvalidAmount, "مبلغ نادرست"),
        (errors.InvalidQuantity, "تعداد نادرست"),
        (errors.UnknownExtra, "خدمت جانبی ناشناخته"),
        (errors.DuplicateExtra, "خدمت جانبی تکراری"),
        (errors.NoTariff, "تعرفه‌ای برای خدمت نیست"),
        (errors.UnknownOfficeKind, "نوع دفتر ناشناخته"),
        (errors.SettlementRowsExceeded, "ردیف‌های تسهیم بیش از حد PSP"),
        (errors.IdentityMismatch, "هویت خدمت‌گیرنده با استعلام مغایر است"),
        (errors.IdentityUnavailable, "استعلام هویت در دسترس نبود"),
    )
}

OBJECTION_STATES = {"open": "در انتظار رسیدگی", "upheld": "پذیرفته شد", "rejected": "رد شد"}
OBJECTION_EVENTS = {
    "notified": "اطلاع‌رسانی به دفتر",
    "filed": "ثبت اعتراض",
    "upheld": "پذیرش اعتراض",
    "rejected": "رد اعتراض",
}
OFFICE_KINDS = {"counter": "دفتر پیشخوان", "rural_ict": "دفتر ICT روستایی"}
LICENCE_STATUSES = {"active": "فعال", "suspended": "تعلیق", "revoked": "لغو"}

LABELS: dict[str, dict[str, str]] = {
    "charge_status": {str(code): text for code, text in CHARGE_STATUSES.items()},
    "refusal_reason": REFUSAL_REASONS,
    "complaint_status": COMPLAINT_STATUSES,
    "objection_state": OBJECTION_STATES,
    "objection_event": OBJECTION_EVENTS,
    "office_kind": OFFICE_KINDS,
    "licence_status": LICENCE_STATUSES,
}
UNKNOWN = "نامشخص"


def label(code: object, kind: str) -> str:
    """The Persian name of `code` among the `kind` labels; a code with none (a new one) is logged, not shown."""
    text = LABELS[kind].get(str(code))
    if text is None:
        log.warning("no Persian label for the %s %r", kind, code)
        return UNKNOWN
    return text
