"""The paper prints of a receipt: the first is the original, every later one a copy, and each is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.core.jalali import format_utc
from receipts.printed import Reprint

FORMS = ("a5", "80mm", "txt")

_RECORD = """
INSERT INTO receipt_prints (office_id, tracking_code, number, form, printed_by, printed_at)
SELECT $1, $2, COALESCE(max(number), 0) + 1, $3, $4, $5
FROM receipt_prints WHERE office_id = $1 AND tracking_code = $2
ON CONFLICT DO NOTHING
RETURNING number
"""
_COLUMNS = "tracking_code, number, form, printed_by, printed_at"


@dataclass(frozen=True)
class ReceiptPrint:
    tracking_code: str
    number: int
    form: str
    printed_by: str
    printed_at: datetime

    @property
    def is_copy(self) -> bool:
        return self.number > 1

    @property
    def reprint(self) -> Reprint | None:
        """What the paper of this print says about being a copy (nothing for the original)."""
        return Reprint(self.number, format_utc(self.printed_at)) if self.is_copy else None

    def as_dict(self) -> dict:
        return {
            "object": "receipt_print",
            "tracking_code": self.tracking_code,
            "number": self.number,
            "copy": self.is_copy,
            "form": self.form,
            "printed_by": self.printed_by,
            "printed_at": format_utc(self.printed_at),
        }


async def record_print(
    db, office_id: str, tracking_code: str, form: str, printed_by: str, at: datetime
) -> ReceiptPrint:
    """Records one more print of an issued receipt and answers which it is. Two prints at once may pick the same
    number; the one that loses takes the next, so each try either records this print or saw another one recorded."""
    while True:
        number = await db.fetchval(_RECORD, office_id, tracking_code, form, printed_by, at)
        if number is not None:
            return ReceiptPrint(tracking_code, number, form, printed_by, at)


async def get_print(db, office_id: str, tracking_code: str, number: int) -> ReceiptPrint | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM receipt_prints WHERE office_id = $1 AND tracking_code = $2 AND number = $3",
        office_id,
        tracking_code,
        number,
    )
    return None if row is None else ReceiptPrint(**row)


async def prints_of(db, office_id: str, tracking_code: str) -> list[ReceiptPrint]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM receipt_prints WHERE office_id = $1 AND tracking_code = $2 ORDER BY number",
        office_id,
        tracking_code,
    )
    return [ReceiptPrint(**row) for row in rows]
