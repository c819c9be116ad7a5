"""Reconciling a day: the report (totals, per PSP, per agency, the rows that did not match) and every row."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg

from gateway.core.jalali import TehranDay, format_utc
from gateway.reconciliation import store
from gateway.reconciliation.report import discrepancies, match_scope, row_view, summarise


async def day_report(conn: asyncpg.Connection, day: TehranDay, psp_id: str | None, limit: int) -> dict:
    """The day's report, listing at most `limit` of the rows that did not match (the CSV has them all)."""
    async with conn.transaction():
        matched = await store.match_day(conn, match_scope(day), psp_id, listed=limit + 1)
    summary = summarise(row for row in matched if row["listed"] is None)
    listed = discrepancies(row for row in matched if row["listed"] is not None)[: limit + 1]
    return {
        "object": "reconciliation",
        "date": day.day.isoformat(),
        "date_jalali": day.jalali,
        "timezone": "Asia/Tehran",
        "from": format_utc(day.start),
        "to": format_utc(day.end),
        "psp_id": psp_id,
        **summary,
        "discrepancies": {
            "object": "list",
            "data": [row_view(row) for row in listed[:limit]],
            "has_more": len(listed) > limit,
        },
    }


async def day_rows(conn: asyncpg.Connection, day: TehranDay, psp_id: str | None) -> AsyncIterator[dict]:
    """Every classified row of the day, matched ones included; needs a transaction."""
    scope = match_scope(day)
    async for row in store.reconciliation_rows(conn, scope, psp_id):
        yield row_view(row)
