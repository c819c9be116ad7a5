"""Shared by the oversight tests: fresh recipients, detection over the last moments, and regulator queries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from gateway.oversight.detection import detect_range

WINDOW = timedelta(minutes=30)
_serials = itertools.count(100_000_001)


def utcnow() -> datetime:
    return datetime.now(UTC)


def national_code() -> str:
    """A valid national code no other test uses, so split-charging windows never mix tests."""
    first_nine = f"{next(_serials):09d}"
    remainder = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True)) % 11
    return first_nine + str(remainder if remainder < 2 else 11 - remainder)


def recipient() -> dict:
    return {"name": "مینا کاظمی", "national_code": national_code(), "mobile": "09121234567"}


async def detect(gateway, db, since: datetime) -> dict[str, int]:
    """Detection over everything recorded from `since` until now, with the tariffs the gateway holds."""
    return await detect_range(db, gateway.services.state.tariffs, WINDOW, since, utcnow())


async def violations_of(db, *evidence_keys: str) -> dict[str, dict]:
    rows = await db.fetch("SELECT * FROM violations WHERE evidence_key = ANY($1::text[])", list(evidence_keys))
    return {row["evidence_key"]: dict(row) for row in rows}


def key_id(token: str) -> str:
    return token.removeprefix("pk_").partition(".")[0]


async def restart_access_log(db) -> None:
    """An empty access log chain, for tests that tamper with it (the folder's earlier entries are not needed again)."""
    await db.execute(
        """TRUNCATE regulator_access_log, regulator_access_log_signed_heads;
           UPDATE regulator_access_log_head SET seq = 0, hash = repeat('0', 64)"""
    )


async def rewrite_access_log_consistently(db) -> None:
    """What an operator with the database to hand can do: recompute every hash and the head after a change."""
    await db.execute(
        """DO $$
           DECLARE entry record; previous text := repeat('0', 64); last bigint := 0;
           BEGIN
             FOR entry IN SELECT * FROM regulator_access_log ORDER BY seq LOOP
               UPDATE regulator_access_log SET prev_hash = previous,
                 hash = pishkhan_access_entry_hash(previous, entry.seq, entry.at, entry.key_id, entry.method,
                                                   entry.path, entry.query, entry.status)
                 WHERE id = entry.id RETURNING hash, seq INTO previous, last;
             END LOOP;
             UPDATE regulator_access_log_head SET seq = last, hash = previous;
           END $$"""
    )
