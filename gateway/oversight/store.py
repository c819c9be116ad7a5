"""The SQL of regulator oversight: detection writes findings (violations) from refusals, completed charges and
off-book terminal-feed rows; the regulator's queries read them back one office at a time, in index order.

Every read walks an index in the order it answers (mostly `violations_office_occurred`: office_id, occurred_at,
id), so its cost follows the rows it returns, not the size of the table (plans: docs/oversight.md). Filters are
added only when given, so each shape of query gets a plan of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from gateway.oversight.catalog import OFFBOOK_TRANSACTION, REFUSAL_TYPES, SPLIT_CHARGING, VIOLATION_TYPES

_UTC_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
INSERT_REFUSAL_FINDINGS = f"""
INSERT INTO violations (office_id, type, evidence_key, evidence, occurred_at, terminal_id, operator_id,
                        service_code, amount, excess)
SELECT r.office_id, m.type, 'refusal:' || r.id,
       jsonb_build_object('source', 'refusals', 'refusal_id', r.id, 'reason', r.reason,
                          'at', {_UTC_TEXT.format("r.created_at")}, 'terminal_id', r.terminal_id,
                          'operator_id', r.operator_id, 'service_code', r.service_code,
                          'requested', r.requested, 'cap', r.cap, 'excess', r.excess,
                          'payment_method', r.payment_method, 'tariff_reference', r.tariff_reference),
       r.created_at, r.terminal_id, r.operator_id, r.service_code, r.requested, r.excess
FROM refusals r JOIN unnest($3::text[], $4::text[]) AS m(reason, type) ON m.reason = r.reason
WHERE r.created_at >= $1 AND r.created_at < $2
ON CONFLICT (office_id, evidence_key) DO NOTHING
"""

# Off-book rows whose terminal is not in the registry belong to no office and are left to reconciliation.
INSERT_OFFBOOK_FINDINGS = f"""
INSERT INTO violations (office_id, type, evidence_key, evidence, occurred_at, terminal_id, amount)
SELECT b.office_id, '{OFFBOOK_TRANSACTION.code}', 'offbook:' || b.id,
       jsonb_build_object('source', 'offbook_transactions', 'offbook_id', b.id, 'psp_id', b.psp_id,
                          'terminal_id', b.terminal_id, 'merchant_id', b.merchant_id, 'rrn', b.rrn, 'stan', b.stan,
                          'amount', b.amount, 'status', b.status, 'masked_pan', b.masked_pan,
                          'transacted_at', {_UTC_TEXT.format("b.transacted_at")},
                          'business_date', b.business_date, 'source_file_id', b.source_file_id,
                          'source_file', f.source, 'source_line', b.source_line),
       b.transacted_at, b.terminal_id, b.amount
FROM offbook_transactions b JOIN psp_files f ON f.id = b.source_file_id
WHERE b.recorded_at >= $1 AND b.recorded_at < $2 AND b.office_id IS NOT NULL
  -- a charge that learnt its references after the feed was imported accounts for the row after all
  AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.psp_id = b.psp_id AND c.rrn = b.rrn
                                           AND c.terminal_id = b.terminal_id AND c.stan = b.stan)
ON CONFLICT (office_id, evidence_key) DO NOTHING
"""


def _count(status: str) -> int:
    return int(status.split()[-1])


async def insert_refusal_findings(conn, since: datetime, until: datetime) -> dict[str, int]:
    """One finding per refusal recorded in [since, until) for a reason that breaches a licence obligation."""
    rows = await conn.fetch(
        f"WITH added AS ({INSERT_REFUSAL_FINDINGS} RETURNING type) SELECT type, count(*) FROM added GROUP BY type",
        since,
        until,
        list(REFUSAL_TYPES),
        [t.code for t in REFUSAL_TYPES.values()],
    )
    return {row["type"]: row["count"] for row in rows}


async def insert_offbook_findings(conn, since: datetime, until: datetime) -> int:
    """One finding per off-book terminal-feed row kept in [since, until) that still matches no charge."""
    return _count(await conn.execute(INSERT_OFFBOOK_FINDINGS, since, until))


# A charge completed in the range, with the same recipient's completed charges for the same service at the same
# office in the window before it, found through charges_split_lookup. A voided charge took nothing in the end: it
# is not part of a split (a void followed by a new charge is a finding of its own, gateway/oversight/void_patterns.py).
SPLIT_CANDIDATES = """
SELECT c.id, c.office_id, o.kind AS office_kind, c.service_code, c.recipient_national_code, c.recipient_kind,
       c.terminal_id,
       c.operator_id, c.amount, c.quantity, c.extras, c.tracking_code, c.completed_at, e.earlier
FROM charges c
JOIN offices o ON o.id = c.office_id
CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('id', p.id, 'completed_at', p.completed_at, 'amount', p.amount,
                                        'quantity', p.quantity, 'extras', p.extras, 'operator_id', p.operator_id,
                                        'tracking_code', p.tracking_code)) AS earlier
    FROM charges p
    WHERE p.office_id = c.office_id AND p.status = 'completed'
      AND p.recipient_national_code = c.recipient_national_code AND p.service_code = c.service_code
      AND p.completed_at >= c.completed_at - $3::interval AND (p.completed_at, p.id) < (c.completed_at, c.id)
      AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.charge_id = p.id AND v.status = 'reversed')
) e
WHERE c.status = 'completed' AND c.completed_at >= $1 AND c.completed_at < $2 AND e.earlier IS NOT NULL
ORDER BY c.completed_at, c.id
"""


async def split_candidates(conn, since: datetime, until: datetime, window: timedelta) -> list[asyncpg.Record]:
    return await conn.fetch(SPLIT_CANDIDATES, since, until, window)


@dataclass(frozen=True)
class NewViolation:
    office_id: str
    type: str
    evidence_key: str
    evidence: dict
    occurred_at: datetime
    terminal_id: str | None
    operator_id: str | None
    service_code: str | None
    amount: int | None
    excess: int | None


async def insert_findings(conn, findings: Sequence[NewViolation]) -> int:
    """Inserts the findings not already recorded; returns how many were new."""
    if not findings:
        return 0
    return _count(
        await conn.execute(
            """INSERT INTO violations (office_id, type, evidence_key, evidence, occurred_at, terminal_id, operator_id,
                                   service_code, amount, excess)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::text[],
                                $7::text[], $8::text[], $9::bigint[], $10::bigint[])
           ON CONFLICT (office_id, evidence_key) DO NOTHING""",
            *(
                list(column)
                for column in zip(
                    *(
                        (
                            f.office_id,
                            f.type,
                            f.evidence_key,
                            f.evidence,
                            f.occurred_at,
                            f.terminal_id,
                            f.operator_id,
                            f.service_code,
                            f.amount,
                            f.excess,
                        )
                        for f in findings
                    ),
                    strict=True,
                )
            ),
        )
    )


async def record_run(
    conn, scanned_from: datetime, scanned_to: datetime, found: dict[str, int], started_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO oversight_detection_runs (scanned_from, scanned_to, found, started_at) VALUES ($1, $2, $3, $4)",
        scanned_from,
        scanned_to,
        found,
        started_at,
    )


async def detection_reach(db) -> datetime | None:
    """How far detection has scanned: findings are complete for everything recorded before this instant."""
    return await db.fetchval("SELECT max(scanned_to) FROM oversight_detection_runs")


async def detection_resume_point(db, margin: timedelta) -> datetime | None:
    """Where the next pass must start reading refusals and charges: the newest pass's end, or `margin` before that
    pass's start if it scanned closer to its start than that (rows committing as it looked may have been unseen)."""
    return await db.fetchval(
        "SELECT least(scanned_to, started_at - $1::interval) FROM oversight_detection_runs "
        "ORDER BY scanned_to DESC LIMIT 1",
        margin,
    )


async def earliest_evidence(conn) -> datetime | None:
    """The first moment any source of findings has a row, so a first detection pass knows where to start."""
    return await conn.fetchval(
        """SELECT least((SELECT created_at FROM refusals ORDER BY id LIMIT 1),
                        (SELECT min(completed_at) FROM charges WHERE status = 'completed'),
                        (SELECT min(recorded_at) FROM offbook_transactions))"""
    )


async def try_detection_lock(conn, lock_id: int) -> bool:
    return await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_id)


async def release_detection_lock(conn, lock_id: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)


# ------------------------------------------------------------------ the regulator's reads


@dataclass(frozen=True)
class FindingFilter:
    since: datetime | None = None
    until: datetime | None = None
    office_ids: Sequence[str] | None = None  # None: every office
    types: Sequence[str] | None = None  # None: every type
    set_aside: bool | None = None  # True: only findings set aside by an upheld objection; False: none of them

    def clauses(self, args: list) -> list[str]:
        """SQL conditions for the filters that are set, appending their parameters to `args`."""

        def param(value) -> str:
            args.append(value)
            return f"${len(args)}"

        clauses = []
        if self.office_ids is not None:
            clauses.append(f"office_id = ANY({param(list(self.office_ids))}::text[])")
        if self.since is not None:
            clauses.append(f"occurred_at >= {param(self.since)}")
        if self.until is not None:
            clauses.append(f"occurred_at < {param(self.until)}")
        if self.types is not None:
            clauses.append(f"type = ANY({param(list(self.types))}::text[])")
        if self.set_aside is not None:
            clauses.append("set_aside_at IS NOT NULL" if self.set_aside else "set_aside_at IS NULL")
        return clauses


Query = tuple[str, list]


def _after(clauses: list[str], args: list, after: tuple | None, key: str) -> None:
    """Continues after the sort key `after` (of the columns in `key`, the first being office_id)."""
    if after is not None:
        first = len(args) + 1
        args.extend(after)
        params = ", ".join(f"${n}" for n in range(first, len(args) + 1))
        clauses.append(f"office_id >= ${first} AND ({key}) > ({params})")


def _limited(sql: str, args: list, limit: int | None) -> Query:
    if limit is None:
        return sql, args
    args.append(limit)
    return f"{sql} LIMIT ${len(args)}", args


# A finding set aside by an upheld objection stays in the lists, marked, with the objection that set it aside (one
# probe of the objections' unique violation index, for set-aside findings only).
_VIOLATION_COLUMNS = (
    "id, office_id, type, evidence_key, evidence, occurred_at, terminal_id, operator_id, "
    "service_code, amount, excess, detected_at, set_aside_at, "
    "CASE WHEN set_aside_at IS NOT NULL THEN (SELECT o.id FROM objections o WHERE o.violation_id = violations.id "
    "AND o.state = 'upheld') END AS set_aside_objection_id"
)


def violations_query(where: FindingFilter, after: tuple[str, datetime, int] | None, limit: int | None) -> Query:
    """Findings in (office_id, occurred_at, id) order, starting after the key `after`."""
    args: list = []
    clauses = where.clauses(args)
    _after(clauses, args, after, "office_id, occurred_at, id")
    return _limited(
        f"SELECT {_VIOLATION_COLUMNS} FROM violations WHERE {' AND '.join(clauses) or 'true'} "
        "ORDER BY office_id, occurred_at, id",
        args,
        limit,
    )


_REFUSAL_COLUMNS = (
    "id, office_id, terminal_id, operator_id, service_code, reason, requested, cap, excess, payment_method, "
    "tariff_reference, details, created_at"
)


def refusals_query(where: FindingFilter, after: tuple[str, datetime, int] | None, limit: int | None) -> Query:
    """Every refusal the charge path recorded, in (office_id, created_at, id) order; `where.types` are reasons."""
    args: list = []
    clauses = where.clauses(args)
    _after(clauses, args, after, "office_id, occurred_at, id")
    return _limited(
        f"SELECT * FROM (SELECT {_REFUSAL_COLUMNS}, created_at AS occurred_at, reason AS type FROM refusals) r "
        f"WHERE {' AND '.join(clauses) or 'true'} ORDER BY office_id, occurred_at, id",
        args,
        limit,
    )


_COUNTED = "set_aside_at IS NULL"  # a finding set aside by an upheld objection is counted apart
_SUMMARY_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE type = '{code}' AND {_COUNTED}) AS {code}" for code in VIOLATION_TYPES
)


# Every void, whatever became of it, with the charge it undoes; `occurred_at` is when the office asked for it.
_VOIDS = """
SELECT v.id::text AS id, v.charge_id, v.office_id, v.psp_id, v.amount, v.reason, v.reason_text, v.requested_by,
       v.status, v.response_code, v.tracking_code AS cancellation_tracking_code, v.created_at AS occurred_at,
       v.finalized_at, c.tracking_code, c.terminal_id, c.operator_id, c.service_code, c.completed_at
FROM voids v JOIN charges c ON c.id = v.charge_id
"""


# Every refund (after the reversal window), likewise; `occurred_at` is when the office asked for it.
_REFUNDS = """
SELECT f.id::text AS id, f.charge_id, f.office_id, f.psp_id, f.amount, f.reason, f.reason_text, f.requested_by,
       f.status, f.response_code, f.tracking_code AS cancellation_tracking_code, f.created_at AS occurred_at,
       f.finalized_at, f.rrn, f.instructed_at, f.settled_at,
       c.tracking_code, c.terminal_id, c.operator_id, c.service_code, c.completed_at
FROM refunds f JOIN charges c ON c.id = f.charge_id
"""


def _undone_query(
    source: str, where: FindingFilter, after: tuple[str, datetime, str] | None, limit: int | None
) -> Query:
    """Voids or refunds in (office_id, occurred_at, id) order, starting after the key `after`; `where.types` does
    not apply."""
    args: list = []
    clauses = FindingFilter(where.since, where.until, where.office_ids).clauses(args)
    _after(clauses, args, after, "office_id, occurred_at, id")
    return _limited(
        f"SELECT * FROM ({source}) v WHERE {' AND '.join(clauses) or 'true'} ORDER BY office_id, occurred_at, id",
        args,
        limit,
    )


def voids_query(where: FindingFilter, after: tuple[str, datetime, str] | None, limit: int | None) -> Query:
    return _undone_query(_VOIDS, where, after, limit)


def refunds_query(where: FindingFilter, after: tuple[str, datetime, str] | None, limit: int | None) -> Query:
    return _undone_query(_REFUNDS, where, after, limit)


def excess_fee_summary_query(where: FindingFilter, after: tuple[str, str, str] | None, limit: int | None) -> Query:
    """Findings counted per office, operator and service (an empty string where a finding names none), with the
    rials asked over the cap (refused), taken over the cap (split charging) and taken off the books; findings set
    aside by an upheld objection are counted apart (`set_aside`), in none of the other figures."""
    args: list = []
    clauses = where.clauses(args)
    _after(clauses, args, after, "office_id, coalesce(operator_id, ''), coalesce(service_code, '')")
    return _limited(
        f"""
        SELECT office_id, coalesce(operator_id, '') AS operator_id, coalesce(service_code, '') AS service_code,
               count(*) FILTER (WHERE {_COUNTED}) AS findings, {_SUMMARY_COUNTS},
               count(*) FILTER (WHERE NOT {_COUNTED}) AS set_aside,
               coalesce(sum(excess) FILTER (WHERE type = 'excess_fee' AND {_COUNTED}), 0)::bigint AS refused_over_cap,
               coalesce(sum(excess) FILTER (WHERE type = '{SPLIT_CHARGING.code}' AND {_COUNTED}), 0)::bigint
                   AS collected_over_cap,
               coalesce(sum(amount) FILTER (WHERE type = '{OFFBOOK_TRANSACTION.code}' AND {_COUNTED}), 0)::bigint
                   AS offbook_amount,
               min(occurred_at) AS first_at, max(occurred_at) AS last_at
        FROM violations WHERE {" AND ".join(clauses) or "true"}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        args,
        limit,
    )


async def fetch(db, query: Query) -> list[asyncpg.Record]:
    sql, args = query
    return await db.fetch(sql, *args)


async def stream(conn: asyncpg.Connection, query: Query) -> AsyncIterator[asyncpg.Record]:
    """Every row of an unlimited query through a server-side cursor: one scan and one sort however long the
    result, for exports."""
    sql, args = query
    async with conn.transaction():
        async for row in conn.cursor(sql, *args, prefetch=500):
            yield row


async def office_period_totals(db, office_id: str, since: datetime, until: datetime) -> list[asyncpg.Record]:
    """The office's findings in [since, until) per type: count, rials asked or taken, rials over the cap."""
    return await db.fetch(
        """SELECT type, count(*) AS count, coalesce(sum(amount), 0)::bigint AS amount,
                  coalesce(sum(excess), 0)::bigint AS excess
           FROM violations WHERE office_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND set_aside_at IS NULL
           GROUP BY type""",
        office_id,
        since,
        until,
    )


async def office_first_finding(db, office_id: str) -> datetime | None:
    return await db.fetchval(
        "SELECT min(occurred_at) FROM violations WHERE office_id = $1 AND set_aside_at IS NULL", office_id
    )


BREACHED_PERIODS = """
SELECT p.n - 1 AS period, t.type
FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS p(since, until, n)
CROSS JOIN unnest($4::text[]) AS t(type)
WHERE EXISTS (SELECT 1 FROM violations v WHERE v.office_id = $1 AND v.type = t.type
                                          AND v.occurred_at >= p.since AND v.occurred_at < p.until
                                          AND v.set_aside_at IS NULL)
"""


async def office_breached_periods(
    db, office_id: str, starts: Sequence[datetime], ends: Sequence[datetime], types: Sequence[str]
) -> list[tuple[int, str]]:
    """(index into `starts`, type) for every period [starts[i], ends[i]) with at least one finding of that type:
    one probe of violations_office_type_occurred per period and type, however many findings there are."""
    rows = await db.fetch(BREACHED_PERIODS, office_id, list(starts), list(ends), list(types))
    return [(row["period"], row["type"]) for row in rows]


def charges_made_between(since: str, until: str) -> str:
    """The condition that prunes charges to the months of a created_at range [since, until) (two SQL parameters).
    Charges are partitioned by their UUIDv7 id (docs/scaling.md), made with the charge, so its time is within
    moments of created_at; a day either side keeps any clock step safe and still reads only the months asked about."""
    return (
        f"id >= pishkhan_uuid7_floor({since} - interval '1 day') "
        f"AND id < pishkhan_uuid7_floor({until} + interval '1 day')"
    )


async def office_activity(db, office_id: str, since: datetime, until: datetime) -> asyncpg.Record:
    """Completed charges of the office created in [since, until): how much business the findings compare with."""
    return await db.fetchrow(
        f"""SELECT count(*) AS charges_completed, coalesce(sum(amount), 0)::bigint AS amount_collected
           FROM charges WHERE office_id = $1 AND created_at >= $2 AND created_at < $3 AND status = 'completed'
             AND {charges_made_between("$2", "$3")}""",
        office_id,
        since,
        until,
    )
