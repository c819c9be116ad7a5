"""The kinds of finding, the licence obligation each one breaches, and their names in the regulator's words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Obligation:
    code: str
    label_fa: str


@dataclass(frozen=True)
class ViolationType:
    code: str
    obligation: Obligation
    label_fa: str
    money_collected: bool  # False: the gateway refused the attempt, no money moved


NO_EXCESS_FEE = Obligation("no_excess_fee", "عدم اخذ وجه مازاد بر تعرفه مصوب (بند ۶)")
CARD_ONLY = Obligation("card_only", "دریافت وجه فقط با کارت و از طریق PSP دارای مجوز بانک مرکزی (بند ۷)")
ACTIVE_LICENCE = Obligation("active_licence", "ارائه خدمت فقط با پروانه معتبر")
AUTHENTICATED_RECIPIENT = Obligation("authenticated_recipient", "استعلام و احراز اصالت خدمت‌گیرنده (بند ۸)")
RECEIPTED_COLLECTION = Obligation(
    "receipted_collection", "صدور رسید چاپی و الکترونیکی و ارسال پیامک برای هر وجه دریافتی (بند ۹)"
)

EXCESS_FEE = ViolationType("excess_fee", NO_EXCESS_FEE, "تلاش برای دریافت وجه مازاد بر تعرفه", False)
CASH_PAYMENT = ViolationType("cash_payment", CARD_ONLY, "تلاش برای دریافت وجه نقد", False)
UNLICENSED_PSP = ViolationType("unlicensed_psp", CARD_ONLY, "دریافت وجه با پایانه PSP فاقد مجوز", False)
INACTIVE_LICENCE = ViolationType("inactive_licence", ACTIVE_LICENCE, "ارائه خدمت با پروانه غیرفعال", False)
IDENTITY_MISMATCH = ViolationType(
    "identity_mismatch", AUTHENTICATED_RECIPIENT, "ارائه خدمت به خدمت‌گیرنده‌ای که هویت او با استعلام مغایر است", False
)
SPLIT_CHARGING = ViolationType("split_charging", NO_EXCESS_FEE, "دریافت وجه مازاد با تقسیم مبلغ در چند تراکنش", True)
OFFBOOK_TRANSACTION = ViolationType(
    "offbook_transaction", RECEIPTED_COLLECTION, "تراکنش روی پایانه دفتر خارج از درگاه", True
)

# Voids are how a paid fee is turned into cash: charge by card, void, take cash across the counter.
VOID_THEN_RECHARGE = ViolationType(
    "void_then_recharge", CARD_ONLY, "ابطال تراکنش و دریافت مجدد وجه از همان خدمت‌گیرنده برای همان خدمت", True
)
VOID_RATE = ViolationType("void_rate", CARD_ONLY, "نرخ ابطال تراکنش‌های دفتر بیش از حد معمول", True)

VIOLATION_TYPES = {
    t.code: t
    for t in (
        EXCESS_FEE,
        CASH_PAYMENT,
        UNLICENSED_PSP,
        INACTIVE_LICENCE,
        IDENTITY_MISMATCH,
        SPLIT_CHARGING,
        OFFBOOK_TRANSACTION,
        VOID_THEN_RECHARGE,
        VOID_RATE,
    )
}
OBLIGATIONS = {
    o.code: o for o in (NO_EXCESS_FEE, CARD_ONLY, ACTIVE_LICENCE, AUTHENTICATED_RECIPIENT, RECEIPTED_COLLECTION)
}

# Refusal reasons recorded by the charge path (gateway/core/charge_rules.py) that are findings against the office.
REFUSAL_TYPES = {
    "excess_fee": EXCESS_FEE,
    "cash_forbidden": CASH_PAYMENT,
    "psp_unlicensed": UNLICENSED_PSP,
    "office_license_inactive": INACTIVE_LICENCE,
    "identity_mismatch": IDENTITY_MISMATCH,
}
