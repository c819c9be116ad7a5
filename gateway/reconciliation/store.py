"""The SQL of PSP file imports, agency statements and the reconciliation of a day.

Imports COPY a file's checked lines as they stream in, in the transaction that records the file's digest: its rows
are kept only once the whole file has passed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from gateway.reconciliation.report import REPEAT_SPAN, MatchScope
from psp_adapters.daily_files import COLUMNS, MONEY_TAKEN, FileKind

if TYPE_CHECKING:
    from gateway.reconciliation.file_rows import FileReader

# --- imports ---------------------------------------------------------------------------------------------------

# Where each kind's lines go as they stream in: a settlement file's straight into psp_settlement_rows (kept only when
# the whole file passes, with the transaction), a terminal feed's into a temporary table whose off-book lines are kept.
_COPY_INTO = {FileKind.SETTLEMENT: "psp_settlement_rows", FileKind.TERMINAL_FEED: "terminal_feed_staging"}
_TYPES = {"settlement_date": "date", "business_date": "date", "amount": "bigint", "transaction_time": "timestamptz"}
_FEED_STAGING = (
    "CREATE TEMP TABLE terminal_feed_staging (file_id bigint NOT NULL, line integer NOT NULL, {}) ON COMMIT DROP"
)


async def take_settlement_turn(conn: asyncpg.Connection, psp_id: str) -> None:
    """Waits until no other import of this PSP's settlement files is under way, and holds the turn until the
    transaction ends: a file's repeats are found among the rows of the PSP's files kept before it."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('psp settlement files ' || $1, 0))", psp_id)


async def new_file_id(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT nextval(pg_get_serial_sequence('psp_files', 'id'))")


async def copy_lines(conn: asyncpg.Connection, reader: FileReader, body: AsyncIterator[bytes]) -> int:
    """COPYs the checked lines of the file into their table as they stream in; returns how many. Raises
    FileRejected (from the reader) for a line that breaks a rule."""
    columns = COLUMNS[reader.kind]
    if reader.kind is FileKind.TERMINAL_FEED:
        await conn.execute(
            _FEED_STAGING.format(", ".join(f"{column} {_TYPES.get(column, 'text')}" for column in columns))
        )
    result = await conn.copy_to_table(
        _COPY_INTO[reader.kind], source=reader.csv_blocks(body), columns=["file_id", "line", *columns], format="csv"
    )
    return int(result.split()[-1])


async def record_file(
    conn: asyncpg.Connection,
    *,
    file_id: int,
    psp_id: str,
    kind: FileKind,
    digest: str,
    rows: int,
    size: int,
    source: str,
    imported_by: str,
) -> bool:
    """Records the file; False when this PSP's file with the same digest was imported before."""
    recorded = await conn.fetchval(
        """INSERT INTO psp_files (id, psp_id, kind, digest, rows, bytes, source, imported_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (psp_id, digest) DO NOTHING RETURNING id""",
        file_id,
        psp_id,
        kind.value,
        digest,
        rows,
        size,
        source,
        imported_by,
    )
    return recorded is not None


async def keep_repeats(conn: asyncpg.Connection, file_id: int, psp_id: str) -> None:
    """Keeps the file's rows that repeat the references (terminal, RRN, STAN, payment identifier) of an earlier line
    of the file, or of a row of the PSP's files kept before, whose transaction time is less than REPEAT_SPAN apart:
    of the rows with the same references that one report could read, only the first pairs with the gateway's row."""
    await _hash_in_memory(conn)
    # The file's rows are new to the planner, which would otherwise take them for a handful.
    await conn.execute("ANALYZE psp_settlement_rows")
    earliest, latest = await conn.fetchrow(
        "SELECT min(transaction_time), max(transaction_time) FROM psp_settlement_rows WHERE file_id = $1", file_id
    )
    # (Read, then written: a statement that writes runs in one process, and this one reads two days of rows.)
    repeats = await conn.fetch(
        """SELECT n.file_id, n.line FROM psp_settlement_rows n
           WHERE n.file_id = $1
             AND EXISTS (SELECT 1 FROM psp_settlement_rows o
                         WHERE o.psp_id = $2 AND o.terminal_id = n.terminal_id AND o.rrn = n.rrn
                           AND o.stan = n.stan AND o.payment_id = n.payment_id
                           AND o.file_id <= $1 AND (o.file_id, o.line) < (n.file_id, n.line)
                           AND o.transaction_time > $3::timestamptz - $5::interval
                           AND o.transaction_time < $4::timestamptz + $5::interval
                           AND o.transaction_time > n.transaction_time - $5::interval
                           AND o.transaction_time < n.transaction_time + $5::interval)""",
        file_id,
        psp_id,
        earliest,
        latest,
        REPEAT_SPAN,
    )
    if repeats:
        await conn.copy_records_to_table("psp_settlement_repeats", records=repeats, columns=["file_id", "line"])


async def find_file(db, psp_id: str, digest: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM psp_files WHERE psp_id = $1 AND digest = $2", psp_id, digest)


async def get_file(db, file_id: int) -> asyncpg.Record:
    return await db.fetchrow("SELECT * FROM psp_files WHERE id = $1", file_id)


async def keep_offbook_transactions(conn: asyncpg.Connection, file_id: int) -> int:
    """Keeps the feed's money-taking lines that no gateway charge accounts for (same PSP, terminal, RRN and
    STAN, whatever the charge's state); a line already kept from an earlier feed is not kept twice."""
    result = await conn.execute(
        """INSERT INTO offbook_transactions (office_id, terminal_id, merchant_id, psp_id, amount, rrn, stan,
                                             transacted_at, business_date, status, masked_pan, source_file_id,
                                             source_line)
            SELECT t.office_id, s.terminal_id, s.merchant_id, s.psp_id, s.amount, s.rrn, s.stan,
                   s.transaction_time, s.business_date, s.status, s.masked_pan, $1, s.line
            FROM terminal_feed_staging s LEFT JOIN terminals t ON t.terminal_id = s.terminal_id
            WHERE s.status = ANY($2::text[])
              AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.psp_id = s.psp_id AND c.rrn = s.rrn
                                                       AND c.terminal_id = s.terminal_id AND c.stan = s.stan)
            ON CONFLICT (psp_id, terminal_id, rrn, stan) DO NOTHING""",
        file_id,
        list(MONEY_TAKEN),
    )
    return int(result.split()[-1])


async def settle_refunds(conn: asyncpg.Connection, file_id: int) -> int:
    """Marks settled every instructed refund whose rows this file takes back, each by a negative line of the same
    amount to the same IBAN under the refund's RRN; a refund with a row missing or different stays instructed, and
    the reconciliation report shows the row."""
    result = await conn.execute(
        """UPDATE refunds f SET settled_file_id = $1, status = 'settled',
                                settled_at = (SELECT imported_at FROM psp_files WHERE id = $1)
           WHERE f.status = 'instructed'
             AND (f.psp_id, f.terminal_id, f.rrn) IN (SELECT p.psp_id, p.terminal_id, p.rrn FROM psp_settlement_rows p
                                                      WHERE p.file_id = $1 AND p.amount < 0)
             AND NOT EXISTS (
                 SELECT 1 FROM jsonb_to_recordset(f.rows) AS r(iban text, amount bigint, payment_id text)
                 WHERE NOT EXISTS (SELECT 1 FROM psp_settlement_rows p
                                   WHERE p.file_id = $1 AND p.psp_id = f.psp_id AND p.terminal_id = f.terminal_id
                                     AND p.rrn = f.rrn AND p.stan = f.stan AND p.payment_id = r.payment_id
                                     AND p.iban = r.iban AND p.amount = -r.amount))""",
        file_id,
    )
    return int(result.split()[-1])


async def psp_exists(db, psp_id: str) -> bool:
    return await db.fetchval("SELECT EXISTS (SELECT 1 FROM psps WHERE id = $1)", psp_id)


async def agency_exists(db, agency_id: str) -> bool:
    return await db.fetchval("SELECT EXISTS (SELECT 1 FROM agencies WHERE id = $1)", agency_id)


# --- agency statements -----------------------------------------------------------------------------------------

# The agency's row of a charge's split settlement: the one with its payment identifier (ordinary rows carry "0"); and
# the charge's void, when it was reversed (its share went back to the card); and its refund, once the PSP took it
# (its share is taken back in a settlement: pending until a PSP file carried it, then returned).
_STATEMENT_FROM = """
FROM charges c
JOIN services s ON s.code = c.service_code
LEFT JOIN LATERAL (SELECT r.iban, r.amount, r.payment_id
                   FROM jsonb_to_recordset(c.settlement_rows) AS r(iban text, amount bigint, payment_id text)
                   WHERE r.payment_id <> '0' LIMIT 1) gov ON true
LEFT JOIN voids v ON v.charge_id = c.id AND v.status = 'reversed'
LEFT JOIN refunds f ON f.charge_id = c.id AND f.status IN ('instructed', 'settled')
WHERE c.status = 'completed' AND c.completed_at >= $2 AND c.completed_at < $3 AND s.agency_id = $1
"""
_STATEMENT_ROWS = f"""
SELECT c.id, c.tracking_code, c.completed_at, c.office_id, c.terminal_id, c.psp_id, c.rrn, c.stan, c.service_code,
       c.amount, coalesce(gov.amount, 0) AS agency_share, gov.iban, gov.payment_id, v.tracking_code AS voided_by,
       f.tracking_code AS refunded_by, f.status AS refund_status
{_STATEMENT_FROM}
  AND (c.completed_at, c.id) > ($4, $5)
ORDER BY c.completed_at, c.id
LIMIT $6
"""
_NO_CHARGE = uuid.UUID(int=0)


async def statement_totals(db, agency_id: str, start: datetime, end: datetime) -> asyncpg.Record:
    return await db.fetchrow(
        f"""SELECT count(*) AS charges, coalesce(sum(c.amount), 0)::bigint AS amount,
                   coalesce(sum(gov.amount), 0)::bigint AS agency_share,
                   coalesce(sum(gov.amount) FILTER (WHERE v.id IS NOT NULL OR f.status = 'settled'), 0)::bigint
                       AS agency_share_returned,
                   coalesce(sum(gov.amount) FILTER (WHERE f.status = 'instructed'), 0)::bigint
                       AS agency_share_refund_pending
            {_STATEMENT_FROM}""",
        agency_id,
        start,
        end,
    )


async def statement_position(
    db, agency_id: str, start: datetime, end: datetime, charge_id: uuid.UUID
) -> datetime | None:
    """The completion time of a charge on this statement (the cursor `starting_after` names), or None."""
    return await db.fetchval(f"SELECT c.completed_at {_STATEMENT_FROM} AND c.id = $4", agency_id, start, end, charge_id)


async def statement_page(
    db, agency_id: str, start: datetime, end: datetime, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    after_time, after_id = after or (start, _NO_CHARGE)
    return await db.fetch(_STATEMENT_ROWS, agency_id, start, end, after_time, after_id, limit)


async def statement_rows(
    conn: asyncpg.Connection,
    agency_id: str,
    start: datetime,
    end: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int | None,
) -> AsyncIterator[asyncpg.Record]:
    """Every row after the cursor (up to `limit`), read through a server-side cursor; needs a transaction."""
    after_time, after_id = after or (start, _NO_CHARGE)
    async for row in conn.cursor(_STATEMENT_ROWS, agency_id, start, end, after_time, after_id, limit, prefetch=1000):
        yield row


# --- reconciliation --------------------------------------------------------------------------------------------

# Gateway side: the split settlement rows of completed charges. PSP side: the settlement files' rows. A row of
# each side pairs on the PSP's references (PSP, terminal, RRN, STAN) and the payment identifier. A charge has at
# most one row per payment identifier (gateway/core/settlement.py merges rows by destination, and an agency's
# identifier is never the ordinary 0); of the PSP's rows with the same references and identifier only the first
# pairs (its repeats were found when their files were imported: psp_settlement_repeats), so a row the PSP settled
# twice shows as extra. A row of a voided charge (its void reversed) was returned to the card: it is expected in no
# settlement file ('returned'), and one that is settled all the same went out twice ('settled_after_void'). A
# refund adds rows of its own: each row of the charge taken back, which the PSP's file carries as a negative line
# under the refund's RRN ('refunded'; none yet: 'refund_pending').
# A pair belongs to the day of the gateway's completion (or, with no charge, of the PSP's transaction time), which
# follows the PSP's transaction time by at most the pairing margin: so the day's charges pair with PSP rows from a
# margin before the day's start to its end, and a PSP row of the day that no charge of the day pairs with is the
# day's only if no charge completed (or refund instructed) within the margin after the day pairs with it either
# (`_PAIRS_LATER`): such a row is classified with no kind, and the readers leave it out. That look-up is made by
# references (`charges_psp_rrn`, `refunds_psp_references`) for the day's unpaired PSP rows alone, so that the charges
# of the day after, which a report made once that day is over would otherwise read and hash in full, cost nothing but
# the rows that crossed midnight. (It is made in the classification, not in the join's condition, where it would keep
# the statement from running in parallel.)
_PAIRS_LATER = """(
    EXISTS (SELECT 1 FROM charges c
            WHERE c.psp_id = x.psp_id AND c.rrn = x.rrn AND c.terminal_id = x.terminal_id AND c.stan = x.stan
              AND c.status = 'completed' AND c.completed_at >= $5 AND c.completed_at < $6 AND c.created_at < $6
              AND c.settlement_rows @> jsonb_build_array(jsonb_build_object('payment_id', x.payment_id)))
    OR EXISTS (SELECT 1 FROM refunds f
               WHERE f.psp_id = x.psp_id AND f.terminal_id = x.terminal_id AND f.rrn = x.rrn AND f.stan = x.stan
                 AND f.status IN ('instructed', 'settled') AND f.instructed_at >= $5 AND f.instructed_at < $6
                 AND f.rows @> jsonb_build_array(jsonb_build_object('payment_id', x.payment_id))))"""
_CLASSIFIED = f"""
WITH gateway_rows AS (
    SELECT c.id AS charge_id, c.psp_id, c.terminal_id, c.office_id, c.rrn, c.stan, c.tracking_code, c.completed_at,
           s.agency_id, r.iban, r.amount, r.payment_id, v.id IS NOT NULL AS voided, false AS refund
    FROM charges c
    JOIN services s ON s.code = c.service_code
    LEFT JOIN voids v ON v.charge_id = c.id AND v.status = 'reversed'
    CROSS JOIN LATERAL jsonb_to_recordset(c.settlement_rows) AS r(iban text, amount bigint, payment_id text)
    WHERE c.status = 'completed' AND c.completed_at >= $1 AND c.completed_at < $2
      AND ($7::text IS NULL OR c.psp_id = $7)
    UNION ALL
    -- A refund the PSP accepted takes each row back under its own RRN, on the day it was instructed.
    SELECT f.charge_id, f.psp_id, f.terminal_id, f.office_id, f.rrn, f.stan, f.tracking_code, f.instructed_at,
           s.agency_id, r.iban, -r.amount, r.payment_id, false, true
    FROM refunds f
    JOIN charges c ON c.id = f.charge_id
    JOIN services s ON s.code = c.service_code
    CROSS JOIN LATERAL jsonb_to_recordset(f.rows) AS r(iban text, amount bigint, payment_id text)
    WHERE f.status IN ('instructed', 'settled') AND f.instructed_at >= $1 AND f.instructed_at < $2
      AND ($7::text IS NULL OR f.psp_id = $7)
), psp_rows AS (
    SELECT p.file_id, p.line, p.psp_id, p.terminal_id, t.office_id, p.rrn, p.stan, p.payment_id, p.iban, p.amount,
           p.settlement_date, p.transaction_time, r.file_id IS NULL AS pairs
    FROM psp_settlement_rows p
    LEFT JOIN psp_settlement_repeats r ON r.file_id = p.file_id AND r.line = p.line
    LEFT JOIN terminals t ON t.terminal_id = p.terminal_id
    WHERE p.transaction_time >= $3 AND p.transaction_time < $4 AND ($7::text IS NULL OR p.psp_id = $7)
), paying_agency AS (
    SELECT DISTINCT ON (a.payment_id) a.payment_id, a.id FROM agencies a ORDER BY a.payment_id, a.id
), paired AS (
    SELECT g.charge_id, g.completed_at, g.tracking_code, g.agency_id AS charge_agency_id,
           g.iban AS expected_iban, CASE WHEN g.refund THEN 0 ELSE g.amount END AS collected,
           CASE WHEN g.voided THEN g.amount WHEN g.refund THEN -g.amount END AS returned, g.refund,
           p.file_id, p.line, p.pairs, p.iban AS settled_iban,
           p.amount AS settled, p.settlement_date, p.transaction_time,
           coalesce(g.psp_id, p.psp_id) AS psp_id, coalesce(g.terminal_id, p.terminal_id) AS terminal_id,
           coalesce(g.office_id, p.office_id) AS office_id, coalesce(g.rrn, p.rrn) AS rrn,
           coalesce(g.stan, p.stan) AS stan, coalesce(g.payment_id, p.payment_id) AS payment_id
    FROM gateway_rows g
    FULL JOIN psp_rows p ON p.psp_id = g.psp_id AND p.terminal_id = g.terminal_id AND p.rrn = g.rrn
                        AND p.stan = g.stan AND p.payment_id = g.payment_id AND p.pairs
    WHERE g.charge_id IS NOT NULL OR p.transaction_time >= $1
)
SELECT CASE WHEN x.charge_id IS NULL AND x.pairs AND {_PAIRS_LATER} THEN NULL
            WHEN x.refund THEN CASE WHEN x.file_id IS NULL THEN 'refund_pending'
                                    WHEN x.settled_iban <> x.expected_iban THEN 'wrong_iban'
                                    WHEN x.settled <> -x.returned THEN 'amount_mismatch'
                                    ELSE 'refunded' END
            WHEN x.returned IS NOT NULL THEN CASE WHEN x.file_id IS NULL THEN 'returned'
                                                  ELSE 'settled_after_void' END
            WHEN x.file_id IS NULL THEN 'missing_at_psp'
            WHEN x.charge_id IS NULL THEN 'missing_at_gateway'
            WHEN x.settled_iban <> x.expected_iban THEN 'wrong_iban'
            WHEN x.settled <> x.collected THEN 'amount_mismatch'
            WHEN x.settlement_date > $8 THEN 'settled_late'
            ELSE 'matched' END AS kind,
       x.psp_id,
       CASE WHEN x.charge_id IS NOT NULL THEN CASE WHEN x.payment_id <> '0' THEN x.charge_agency_id END
            ELSE paying_agency.id
       END AS agency_id,
       x.office_id, x.terminal_id, x.rrn, x.stan, x.payment_id, x.charge_id,
       CASE WHEN x.refund THEN 'refunded' WHEN x.returned IS NOT NULL THEN 'voided'
            WHEN x.charge_id IS NOT NULL THEN 'completed' END AS charge_status,
       x.tracking_code, x.expected_iban, x.settled_iban, coalesce(x.collected, 0) AS collected,
       coalesce(x.settled, 0) AS settled, coalesce(x.returned, 0) AS returned,
       x.completed_at, x.transaction_time, x.settlement_date, x.file_id, x.line
FROM paired x
LEFT JOIN paying_agency ON paying_agency.payment_id = x.payment_id
"""


def _named_charge(row: str) -> str:
    """The charge that a classified row (`row`) with no charge side names all the same by the PSP's references (a
    charge not completed, or completed outside the day), as `named`: looked up only for the rows that are listed,
    so that a day's totals, which need no charge, look up nothing per row."""
    return f"""LEFT JOIN LATERAL (SELECT c.id, c.status, c.tracking_code FROM charges c
                                   WHERE {row}.charge_id IS NULL AND c.psp_id = {row}.psp_id AND c.rrn = {row}.rrn
                                     AND c.terminal_id = {row}.terminal_id AND c.stan = {row}.stan
                                   LIMIT 1) named ON true"""


def _row_order(row: str) -> str:
    """The order of the report's rows, of the classified row `row`."""
    return (
        f"ORDER BY {row}.psp_id, coalesce({row}.completed_at, {row}.transaction_time), {row}.rrn, {row}.payment_id, "
        f"{row}.file_id, {row}.line"
    )


# The kinds that are no discrepancy: paired and right, or gone back to the card (voided and in no file, or refunded
# and taken back by a file).
_AGREED = "('matched', 'returned', 'refunded')"
MATCH_WORK_MEM = "512MB"


def _match_args(scope: MatchScope, psp_id: str | None) -> tuple:
    return (*scope.day, *scope.psp_rows, *scope.later, psp_id, scope.last_on_time)


async def _hash_in_memory(conn: asyncpg.Connection) -> None:
    # The report, and the search for a file's repeats, hash the PSP's rows of two days or more at once: two million
    # rows took about 200 MB. With the default 4 MB the search's hash went to temporary files in 16 batches.
    await conn.execute(f"SET LOCAL work_mem = '{MATCH_WORK_MEM}'")


async def match_day(
    conn: asyncpg.Connection, scope: MatchScope, psp_id: str | None, listed: int
) -> list[asyncpg.Record]:
    """Pairs the day's rows once, and returns two kinds of rows. Sums (`listed` null): the rows, collected, settled
    and returned of each PSP, agency and kind. Discrepancies: the first `listed` distinct rows that did not match
    (neither matched nor returned by a void or a refund), each a reconciliation_row (`listed`) with its place in the
    report's order (`place`), how many times it was counted (`rows`) and the charge that a PSP row with no charge side
    names all the same (`named_*`). A read and nothing else, so that it runs on a replica; needs a transaction.

    The paired rows go through one grouping, by PSP, agency, kind and, for a row that did not match, the whole row
    (null for the others, so that a day's million matched rows make a few groups): the groups give the sums and the
    rows to list. Nothing holds the paired rows themselves, which the two uses would otherwise both read."""
    await _hash_in_memory(conn)
    return await conn.fetch(
        f"""WITH by_group AS MATERIALIZED (
                SELECT x.psp_id, x.agency_id, x.kind,
                       CASE WHEN x.kind NOT IN {_AGREED} THEN x::reconciliation_row END AS listed,
                       count(*) AS rows, sum(x.collected)::bigint AS collected,
                       sum(x.settled)::bigint AS settled, sum(x.returned)::bigint AS returned
                FROM ({_CLASSIFIED}) x
                GROUP BY x.psp_id, x.agency_id, x.kind, listed),
            first_listed AS (SELECT * FROM by_group g WHERE g.kind NOT IN {_AGREED} {_row_order("(g.listed)")} LIMIT $9)
            SELECT psp_id, agency_id, kind, sum(rows)::bigint AS rows, sum(collected)::bigint AS collected,
                   sum(settled)::bigint AS settled, sum(returned)::bigint AS returned,
                   NULL::reconciliation_row AS listed, NULL::uuid AS named_charge_id,
                   NULL::text AS named_charge_status, NULL::text AS named_tracking_code, NULL::bigint AS place
            FROM by_group WHERE kind IS NOT NULL GROUP BY psp_id, agency_id, kind
            UNION ALL
            SELECT g.psp_id, g.agency_id, g.kind, g.rows, g.collected, g.settled, g.returned, g.listed,
                   named.id, named.status, named.tracking_code, row_number() OVER ({_row_order("(g.listed)")})
            FROM first_listed g {_named_charge("(g.listed)")}""",
        *_match_args(scope, psp_id),
        listed,
    )


async def reconciliation_rows(
    conn: asyncpg.Connection, scope: MatchScope, psp_id: str | None
) -> AsyncIterator[asyncpg.Record]:
    """Every paired row of the day, matched or not, through a server-side cursor; needs a transaction."""
    await _hash_in_memory(conn)
    async for row in conn.cursor(
        f"""SELECT x.kind, x.psp_id, x.agency_id, x.office_id, x.terminal_id, x.rrn, x.stan, x.payment_id,
                   coalesce(x.charge_id, named.id) AS charge_id,
                   coalesce(x.charge_status, named.status) AS charge_status,
                   coalesce(x.tracking_code, named.tracking_code) AS tracking_code,
                   x.expected_iban, x.settled_iban, x.collected, x.settled, x.returned,
                   x.completed_at, x.transaction_time, x.settlement_date, x.file_id, x.line
            FROM ({_CLASSIFIED}) x {_named_charge("x")}
            WHERE x.kind IS NOT NULL
            {_row_order("x")}""",
        *_match_args(scope, psp_id),
        prefetch=1000,
    ):
        yield row
