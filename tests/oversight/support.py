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
