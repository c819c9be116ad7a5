"""Reading receipts."""
from __future__ import annotations


async def get_receipt(db, tracking_code: str):
    return await db.fetchrow(
        "SELECT office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed "
        "FROM receipts WHERE tracking_code = $1", tracking_code)
