"""What every PSP protocol here shares with the national card switch (Shetab): its response codes and masked PANs.

Both protocols report the switch's two-digit ISO 8583 response codes, the ISO 8583 adapter in field 39 and the
cloud PC-POS API in `ResultCode`, so the gateway reads one set of codes whatever the PSP speaks:
    00 approved
    09 request in progress: the terminal is busy with another card
    12 invalid transaction: the original's state forbids this request (or the reversal window has passed)
    13 invalid amount (zero, settlement rows that do not add up, or a follow-up naming another amount)
    25 unable to locate the original
    30 format error
    51 insufficient funds   55 wrong PIN   61 over limit   91 issuer unavailable
    92 the terminal cannot be reached (no route to it)
    99 cancelled by the cardholder
    94 (default) already verified: a repeated verify; each PSP may use its own code
"""

from __future__ import annotations

APPROVED = "00"
BUSY = "09"
INVALID_TRANSACTION = "12"
INVALID_AMOUNT = "13"
NOT_FOUND = "25"
FORMAT_ERROR = "30"
TERMINAL_UNREACHABLE = "92"
CANCELLED = "99"
DEFAULT_ALREADY_VERIFIED = "94"

DESCRIPTIONS = {
    APPROVED: "تراکنش موفق",
    BUSY: "کارتخوان در حال انجام تراکنش دیگری است",
    INVALID_TRANSACTION: "تراکنش نامعتبر",
    INVALID_AMOUNT: "مبلغ نامعتبر",
    NOT_FOUND: "تراکنش اصلی یافت نشد",
    FORMAT_ERROR: "خطای قالب پیام",
    "51": "موجودی کافی نیست",
    "55": "رمز نادرست است",
    "61": "مبلغ بیش از سقف مجاز است",
    "91": "صادرکننده در دسترس نیست",
    TERMINAL_UNREACHABLE: "کارتخوان در دسترس نیست",
    CANCELLED: "انصراف دارنده کارت",
}
ALREADY_VERIFIED_DESCRIPTION = "تراکنش قبلا تایید شده است"


def mask_pan(pan: str) -> str:
    """First 6 and last 4 characters kept, the rest as `*`; idempotent on an already masked PAN."""
    if len(pan) <= 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
