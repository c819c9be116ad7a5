"""A receipt to complain about, and the code the gateway queued for it (read from the outbox)."""

from __future__ import annotations

import re
import secrets

from tests.stack import charge_body


async def receipt_for_new_mobile(gateway, keys, terminal="10000001", operator="op-11") -> tuple[dict, str]:
    mobile = f"0912{secrets.randbelow(10_000_000):07d}"
    recipient = {"name": "علی رضایی", "national_code": "0012345679", "mobile": mobile}
    status, charge = await gateway.charge(
        await keys(f"t:{terminal}"), charge_body(terminal_id=terminal, operator_id=operator, recipient=recipient)
    )
    assert status == 201, charge
    return charge, mobile


async def queued_codes(db, mobile: str) -> list[str]:
    rows = await db.fetch(
        "SELECT payload FROM outbox WHERE recipient = $1 AND message_id LIKE 'complaint-code-%' ORDER BY id", mobile
    )
    return [re.search(r"[0-9]{6}", row["payload"]["text"]).group(0) for row in rows]


async def file(gateway, tracking: str, phone: str, sent_code: str, **changes):
    body = {
        "tracking_code": tracking,
        "mobile": phone,
        "code": sent_code,
        "category": "excess_fee",
        "text": "۵۰٬۰۰۰ ریال بیشتر گرفتند",
        **changes,
    }
    return await gateway.request("POST", "/v1/complaints", json=body)
