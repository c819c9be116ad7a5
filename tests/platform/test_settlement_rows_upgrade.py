"""The upgrade that keeps completed charges' settlement rows in a table of their own: charges completed before it
get theirs (and only completed charges), and the PSP files' rows already imported stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from gateway.platform.db import connect
from gateway.platform.migrate import apply_migrations
from tests.platform.schema_history import migrate_until

_CHARGE = """
INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity, extras,
                     recipient_name, recipient_national_code, recipient_mobile, amount, breakdown, tariff_reference,
                     settlement_rows, status, stan, rrn, verify_deadline, created_at, completed_at, tracking_code)
VALUES ($1, '11110001', '10000001', 'm-1', 'psp-mellat', 'op-11', '1101', 1, '[]', 'x', '0012345679', '09121234567',
        700000, '{}', 'CRA-COM-1402-07', $2::jsonb, $3, $4, $5, $6, $6, $7, $8)
"""
_PSP_ROW = """
INSERT INTO psp_settlement_rows (file_id, line, psp_id, settlement_date, iban, amount, payment_id, rrn, stan,
                                 terminal_id, transaction_time)
VALUES (7, 2, 'psp-mellat', '2025-03-05', 'IR560150679290810033907579', 500000, '220012345678902', '506308000001',
        '000017', '10000001', '2025-03-04T08:15:00Z')
"""
AGENCY_ROW = {"iban": "IR560150679290810033907579", "amount": 500000, "payment_id": "220012345678902"}
OFFICE_ROW = {"iban": "IR090150161461003307666193", "amount": 200000, "payment_id": "0"}


async def test_charges_completed_before_the_upgrade_keep_their_settlement_rows(empty_database):
    await migrate_until(empty_database, "0160")
    at = datetime(2025, 3, 4, 8, 15, tzinfo=UTC)
    completed, pending = uuid.uuid4(), uuid.uuid4()
    conn = await connect(empty_database)
    try:
        rows = [AGENCY_ROW, OFFICE_ROW]
        await conn.execute(_CHARGE, completed, rows, "completed", "000017", "506308000001", at, at, "code-1")
        await conn.execute(_CHARGE, pending, rows, "sent", "000018", None, at, None, None)
        await conn.execute(_PSP_ROW)

        await apply_migrations(empty_database)

        kept = await conn.fetch("SELECT * FROM charge_settlement_rows ORDER BY payment_id DESC")
        assert [dict(row) for row in kept] == [
            {
                "completed_at": at,
                "charge_id": completed,
                "psp_id": "psp-mellat",
                "terminal_id": "10000001",
                "office_id": "11110001",
                "service_code": "1101",
                "rrn": "506308000001",
                "stan": "000017",
                "tracking_code": "code-1",
                **row,
            }
            for row in (AGENCY_ROW, OFFICE_ROW)
        ]
        day = await conn.fetch(
            "SELECT file_id, line FROM psp_settlement_rows WHERE transaction_time >= $1 AND transaction_time < $2",
            at - timedelta(hours=1),
            at + timedelta(hours=1),
        )
        assert [tuple(row) for row in day] == [(7, 2)]
    finally:
        await conn.close()
