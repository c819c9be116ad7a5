"""The regulator access log's chain in PostgreSQL: appending an entry, signing the head, and checking it all.

The hashing and the audit are in gateway/core/access_chain.py; the append is one call of the plpgsql function
`pishkhan_log_regulator_access` (migration 0021), atomic and serialised on the head row. Heads are signed with
the gateway's receipt-signing keyring, whose public keys `GET /v1/keys` publishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from gateway.core.access_chain import AccessEntry, BreakKind, ChainAudit, ChainBreak, ChainPoint, ChainReport
from gateway.core.clock import Clock
from gateway.core.jalali import format_utc
from receipts.canonical import b64url_decode, b64url_encode, canonical_bytes
from receipts.model import parse_timestamp
from receipts.signing import Keyring, VerifyingKeyring

log = logging.getLogger(__name__)
LOG_NAME = "regulator_access_log"
_HEAD_FIELDS = ("log", "seq", "hash", "signed_at", "key_id")


async def log_access(db, *, key_id: str, method: str, path: str, query: str, status: int) -> int:
    """Appends one entry to the chain; its seq."""
    return await db.fetchval(
        "SELECT pishkhan_log_regulator_access($1, $2, $3, $4, $5)", key_id, method, path, query, status
    )


# ---------------------------------------------------------------- signed heads


def _published(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "log": LOG_NAME,
        "seq": row["seq"],
        "hash": row["hash"],
        "signed_at": format_utc(row["signed_at"]),
        "key_id": row["key_id"],
        "signature": row["signature"],
    }


async def sign_head(db, keyring: Keyring, clock: Clock) -> dict[str, Any] | None:
    """Signs the chain's current head (unless that head is already signed); the signed head, None for an empty log."""
    head = await db.fetchrow("SELECT seq, hash FROM regulator_access_log_head")
    if head is None or head["seq"] == 0:
        return None
    signed_at = clock()
    key = keyring.signer_at(signed_at)
    body = {"log": LOG_NAME, "seq": head["seq"], "hash": head["hash"], "signed_at": format_utc(signed_at)}
    body["key_id"] = key.key_id
    signature = b64url_encode(key.sign(canonical_bytes(body)))
    await db.execute(
        """INSERT INTO regulator_access_log_signed_heads (seq, hash, signed_at, key_id, signature)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING""",
        head["seq"],
        head["hash"],
        parse_timestamp(body["signed_at"]),
        key.key_id,
        signature,
    )
    # Another process may have signed the same head first: what is stored is what is published.
    return _published(await db.fetchrow("SELECT * FROM regulator_access_log_signed_heads WHERE seq = $1", head["seq"]))


async def signed_heads(db) -> list[dict[str, Any]]:
    """Every signed head, oldest first, as `GET /v1/regulator/access-log/heads` publishes them."""
    return [_published(row) for row in await db.fetch("SELECT * FROM regulator_access_log_signed_heads ORDER BY seq")]


async def sign_heads_daily(pool, keyring: Callable[[], Keyring], *, interval: float, clock: Clock) -> None:
    """Signs the head whenever the newest signed head is `interval` seconds old (or there is none) and the chain has
    moved since; looks every `interval` / 24 seconds at most, so a restart delays a signature by little."""
    while True:
        try:
            async with pool.acquire() as db:
                newest = await db.fetchval("SELECT max(signed_at) FROM regulator_access_log_signed_heads")
                if newest is None or clock() - newest >= timedelta(seconds=interval):
                    signed = await sign_head(db, keyring(), clock)
                    if signed is not None:
                        log.info("regulator access log head %s signed", signed["seq"])
        except Exception:
            log.exception("signing the regulator access log head failed; trying again")
        await asyncio.sleep(min(interval / 24, 3600))


def check_head(head: Any, keys: VerifyingKeyring) -> ChainBreak | None:
    """None when `head` is a signed head of this log whose signature verifies with a key valid when it was signed."""
    if not isinstance(head, Mapping) or set(head) != {*_HEAD_FIELDS, "signature"} or head.get("log") != LOG_NAME:
        return ChainBreak(BreakKind.HEAD_SIGNATURE, None, f"not a signed head of the {LOG_NAME}: {head!r:.200}")
    seq = head["seq"] if type(head["seq"]) is int else None
    try:
        body = {field: head[field] for field in _HEAD_FIELDS}
        result = keys.check(
            head["key_id"], canonical_bytes(body), b64url_decode(head["signature"]), parse_timestamp(head["signed_at"])
        )
    except (ValueError, TypeError) as error:
        return ChainBreak(BreakKind.HEAD_SIGNATURE, seq, f"signed head {seq}: {error}")
    if not result.ok:
        return ChainBreak(BreakKind.HEAD_SIGNATURE, seq, f"signed head {seq}: {result.detail}")
    return None


# ---------------------------------------------------------------- the audit


async def _entries(db) -> AsyncIterator[AccessEntry]:
    async with db.transaction(isolation="repeatable_read", readonly=True):
        query = """SELECT seq, at, key_id, method, path, query, status, prev_hash, hash
                   FROM regulator_access_log ORDER BY seq, id"""
        async for row in db.cursor(query, prefetch=2000):
            yield AccessEntry(**row)


async def verify_access_log(
    db, keys: VerifyingKeyring, kept_heads: Iterable[Any] = (), *, kept_source: str = "a kept signed head"
) -> ChainReport:
    """The whole chain against the heads signed in the database, the heads the regulator kept (`kept_heads`), and the
    log's current head row. A head whose signature fails is a break and is not trusted as a point."""
    stored = await signed_heads(db)
    points: list[ChainPoint] = []
    bad: list[ChainBreak] = []
    for source, heads in (("signed head in the database", stored), (kept_source, list(kept_heads))):
        for head in heads:
            problem = check_head(head, keys)
            if problem is None:
                points.append(ChainPoint(head["seq"], head["hash"], f"{source} {head['seq']} ({head['signed_at']})"))
            else:
                bad.append(problem)
    current = await db.fetchrow("SELECT seq, hash FROM regulator_access_log_head")
    if current is not None and current["seq"] > 0:
        points.append(ChainPoint(current["seq"], current["hash"], "the log's head row"))
    retired = await db.fetchrow("SELECT seq, hash, retired_at FROM regulator_access_log_anchor")
    anchor = None
    if retired is not None:
        source = f"the last retired entry {retired['seq']} ({format_utc(retired['retired_at'])})"
        anchor = ChainPoint(retired["seq"], retired["hash"], source)
    audit = ChainAudit(points, bad, anchor)
    async for entry in _entries(db):
        audit.add(entry)
    return audit.report()
