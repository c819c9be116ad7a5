"""The SQL of outbox delivery: claiming rows to send or to poll, and recording what came of it.

A claim is a lease: the row's next time (next_attempt_at to send, next_poll_at to poll) moves to the end of the
lease, so a worker that dies leaves the row due again once the lease runs out. Claims use FOR UPDATE SKIP LOCKED,
so several workers in several processes never take the same row at once. Every write after a claim is fenced by
the claim (the attempt number it took, or the lease it set): a worker whose lease ran out and was taken over
changes nothing.

The outbox is partitioned by month of created_at (docs/scaling.md, "Time-partitioned tables"). A claim cannot name a
month (a message due now may be of any month still kept), so it reads the small partial index of due messages of
every month, then the claimed rows by primary key in the batch's months alone (`_claim`); everything after it
carries each message's created_at, so the row is found in its own month alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    office_id: str
    charge_id: uuid.UUID | None  # None for a notice to an office, which no charge made
    channel: str
    message_id: str
    recipient: str
    payload: dict
    attempt: int  # this claim's attempt number, counting from 1
    created_at: datetime  # names the message's month partition


@dataclass(frozen=True)
class ClaimedReport:
    id: int
    channel: str
    message_id: str
    sent_at: datetime
    created_at: datetime  # names the message's month partition


@dataclass(frozen=True)
class ReportUpdate:
    id: int
    created_at: datetime
    delivery_status: str | None  # None: the provider could not tell; the last known report stays
    final_status: str | None  # delivered, undelivered or failed when the report is final
    next_poll_at: datetime | None  # None: stop polling


def _claim(due: str, changes: str, returned: str) -> str:
    """A claim: locks up to $3 rows `due` (a condition, then the order they came due in) through their partial index,
    then changes them, found again by `id = ANY (...)` (every month draws its ids from one sequence, so an id names
    one row) in the months from the batch's first created_at to its last.

    That is one look-up of each month's primary key for the whole batch, which the planner prefers to reading the
    month whole even while the month is nearly empty and has never been analyzed, as every month starts. A join back
    to the claimed rows was costed per claimed row in every month instead, so a plan made on a new month read that
    month whole, and a prepared statement keeps its generic plan until the month is next analyzed: by then, every
    claim read a month of thousands of rows (docs/performance.md)."""
    return f"""
WITH due AS (SELECT id, created_at FROM outbox WHERE {due} LIMIT $3 FOR UPDATE SKIP LOCKED)
UPDATE outbox o SET {changes}
WHERE o.id = ANY (ARRAY(SELECT id FROM due))
  AND o.created_at BETWEEN (SELECT min(created_at) FROM due) AND (SELECT max(created_at) FROM due)
RETURNING {returned}
"""


CLAIM_DUE_MESSAGES = _claim(
    "status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at",
    "attempts = o.attempts + 1, claimed_until = $2, next_attempt_at = $2, updated_at = $1",
    "o.id, o.office_id, o.charge_id, o.channel, o.message_id, o.recipient, o.payload, o.attempts, o.created_at",
)


async def claim_due_messages(db, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedMessage]:
    """Takes pending messages whose time has come, counting an attempt for each."""
    rows = await db.fetch(CLAIM_DUE_MESSAGES, now, lease_until, limit)
    return [
        ClaimedMessage(
            row["id"],
            row["office_id"],
            row["charge_id"],
            row["channel"],
            row["message_id"],
            row["recipient"],
            row["payload"],
            row["attempts"],
            row["created_at"],
        )
        for row in rows
    ]


# A claim still holds while its attempt is the row's latest and the row is claimed (every way out of `pending`
# clears `claimed_until`). The test is on the claim, not on `status = 'pending'`, so that the planner goes by primary
# key: a large outbox's statistics say almost nothing is pending, and it would then read the pending messages' index
# whole for each batch, which after an outage holds the entire backlog.
_STILL_OURS = "id = $1 AND created_at = $6 AND attempts = $2 AND claimed_until IS NOT NULL"


@dataclass(frozen=True)
class Acceptance:
    message: ClaimedMessage
    provider_message_id: str | None
    next_poll_at: datetime | None  # None: taking the message was delivery itself (an inbox that stored it)


# The claim test of _STILL_OURS, for a batch. The batch's first and last created_at bound the months read even
# when the planner joins the batch by hash rather than row by row.
RECORD_ACCEPTED = """
UPDATE outbox o SET
    status = CASE WHEN a.next_poll_at IS NULL THEN 'delivered' ELSE 'sent' END,
    delivery_status = CASE WHEN a.next_poll_at IS NULL THEN 'delivered' ELSE 'queued' END,
    provider_message_id = a.provider_message_id, sent_at = $5, delivery_status_at = $5,
    next_poll_at = a.next_poll_at, claimed_until = NULL, last_error = NULL, updated_at = $5
FROM unnest($1::bigint[], $6::timestamptz[], $2::integer[], $3::text[], $4::timestamptz[])
     AS a(id, created_at, attempt, provider_message_id, next_poll_at)
WHERE o.id = a.id AND o.created_at = a.created_at AND o.created_at BETWEEN $7 AND $8
  AND o.attempts = a.attempt AND o.claimed_until IS NOT NULL
RETURNING o.id
"""


async def record_accepted(db, accepted: list[Acceptance], at: datetime) -> set[int]:
    """The providers took these messages, in one statement. A row with `next_poll_at` is `sent` and awaits delivery
    reports; one without is `delivered`. Returns the ids whose claim still held (the others changed nothing)."""
    rows = await db.fetch(
        RECORD_ACCEPTED,
        [a.message.id for a in accepted],
        [a.message.attempt for a in accepted],
        [a.provider_message_id for a in accepted],
        [a.next_poll_at for a in accepted],
        at,
        [a.message.created_at for a in accepted],
        min(a.message.created_at for a in accepted),
        max(a.message.created_at for a in accepted),
    )
    return {row["id"] for row in rows}


async def record_retry(db, message: ClaimedMessage, next_attempt_at: datetime, error: str, at: datetime) -> bool:
    result = await db.execute(
        f"""UPDATE outbox SET next_attempt_at = $3, last_error = $4, claimed_until = NULL, updated_at = $5
            WHERE {_STILL_OURS}""",
        message.id,
        message.attempt,
        next_attempt_at,
        error,
        at,
        message.created_at,
    )
    return result.endswith(" 1")


async def record_given_up(db, message: ClaimedMessage, status: str, error: str, at: datetime) -> bool:
    """Ends a message that was never accepted: `failed` (refused for good) or `dead` (out of attempts)."""
    result = await db.execute(
        f"""UPDATE outbox SET status = $3, last_error = $4, claimed_until = NULL, updated_at = $5
            WHERE {_STILL_OURS}""",
        message.id,
        message.attempt,
        status,
        error,
        at,
        message.created_at,
    )
    return result.endswith(" 1")


async def count_pending(db) -> int:
    """Messages not yet accepted nor given up, whether due now, backing off, or claimed."""
    return await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'")


CLAIM_DUE_REPORTS = _claim(
    "next_poll_at <= $1 ORDER BY next_poll_at",
    "next_poll_at = $2",
    "o.id, o.channel, o.message_id, o.sent_at, o.created_at",
)


async def claim_due_reports(db, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedReport]:
    """Takes accepted messages whose next delivery-report poll is due."""
    rows = await db.fetch(CLAIM_DUE_REPORTS, now, lease_until, limit)
    return [
        ClaimedReport(row["id"], row["channel"], row["message_id"], row["sent_at"], row["created_at"]) for row in rows
    ]


async def record_reports(db, updates: list[ReportUpdate], lease_until: datetime, at: datetime) -> set[int]:
    """Stores a batch of delivery reports in one statement; returns the ids of the rows still this poller's. Bounded
    by the batch's months as record_accepted is."""
    rows = await db.fetch(
        """UPDATE outbox o SET
               delivery_status = coalesce(r.delivery_status, o.delivery_status),
               delivery_status_at = CASE WHEN r.delivery_status IS NULL THEN o.delivery_status_at ELSE $5 END,
               status = coalesce(r.final_status, o.status),
               next_poll_at = r.next_poll_at, updated_at = $5
           FROM unnest($1::bigint[], $7::timestamptz[], $2::text[], $3::text[], $4::timestamptz[])
                AS r(id, created_at, delivery_status, final_status, next_poll_at)
           WHERE o.id = r.id AND o.created_at = r.created_at AND o.created_at BETWEEN $8 AND $9
             AND o.next_poll_at = $6
           RETURNING o.id""",
        [u.id for u in updates],
        [u.delivery_status for u in updates],
        [u.final_status for u in updates],
        [u.next_poll_at for u in updates],
        at,
        lease_until,
        [u.created_at for u in updates],
        min(u.created_at for u in updates),
        max(u.created_at for u in updates),
    )
    return {row["id"] for row in rows}


async def messages_of_charge(db, charge_id: uuid.UUID, completed_at: datetime | None) -> list[asyncpg.Record]:
    """The messages of a charge: its receipt's, written at its completion, and a cancellation's, written later. No
    message precedes the completion nor is written in the future (a day allowed for clocks that differ), so only the
    months from the completion to today are read; a charge never completed has none."""
    if completed_at is None:
        return []
    return await db.fetch(
        """SELECT channel, message_id, recipient, status, attempts, last_error, provider_message_id, sent_at,
                  delivery_status, delivery_status_at, created_at
           FROM outbox
           WHERE charge_id = $1 AND created_at >= $2 AND created_at < now() + interval '1 day'
           ORDER BY channel""",
        charge_id,
        completed_at,
    )
