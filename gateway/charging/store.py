"""The SQL of the charge path. The hot path costs two statements: one to persist the charge (with its
idempotency key) before the PSP is called, shared with the charges of the same process persisted at the same moment
(gateway/charging/group_commit.py), one to complete it with its receipt, chain head and outbox rows, shared
likewise with the completions of the same moment.

Every write about a pending charge is fenced by its claim epoch: it applies only if no recovery claim has been
taken since the writer read the charge (see 0006_money_safety.sql)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from gateway.core.charge import PENDING, Charge, ExtraItem, Recipient, Status
from gateway.core.identity import IdentityCheck
from gateway.core.psp import SettlementRow
from gateway.core.recipients import RecipientKind

PENDING_STATUSES = [s.value for s in PENDING]


class ChainMoved(Exception):
    """The office's receipt chain head moved under us: re-read it and sign again."""


@contextmanager
def chain_moved_on_conflict() -> Iterator[None]:
    """Turns a receipt-issuing statement's lost race for its office's chain into ChainMoved: the head no longer
    where the statement read it (the statement's pishkhan_abort, SQLSTATE PK001, which asyncpg knows no class for
    and raises as UnknownPostgresError) or the sequence number already taken."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise ChainMoved() from exc
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == "PK001":
            raise ChainMoved() from exc
        raise


class KeyRevoked(Exception):
    """The caller's API key was revoked: nothing was written."""


@dataclass(frozen=True)
class ChargeInsert:
    """A new charge to persist under its idempotency key. `key_id` is the caller's API key, whose row may have come
    from memory (gateway/web/auth.py), re-checked in the inserting statement; None when the caller was not
    authenticated by a key (the counter page's signed-in operator)."""

    charge: Charge
    idempotency_key: str
    request_hash: bytes
    key_id: str | None = None


# One statement for any number of charges (the arrays' length), so one prepared statement serves every batch size.
# The JSON columns travel as text[] of JSON: asyncpg would take a JSON array inside a jsonb[] for another dimension.
# Each row's key is inserted only if its API key is not revoked, and its charge only if its key was new: a key
# repeated within the arguments is stored once, for one of its rows. The keys are inserted in (office, key) order so
# that two batches waiting on each other's uncommitted keys always wait in the same direction, never in a cycle.
_INSERT_CHARGES = """
WITH new_charges AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::integer[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[],
                         $14::text[], $15::text[], $16::text[], $17::timestamptz[], $18::timestamptz[], $19::text[],
                         $20::bytea[], $21::timestamptz[], $22::text[], $23::text[], $24::text[])
        WITH ORDINALITY AS i(id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity,
                             extras, recipient_name, recipient_national_code, recipient_mobile, amount, breakdown,
                             tariff_reference, settlement_rows, verify_deadline, created_at, key, request_hash,
                             next_recovery_at, recipient_kind, identity_check, key_id, n)
), revoked AS (
    SELECT id FROM api_keys WHERE id = ANY($24::text[]) AND revoked_at IS NOT NULL
), idem AS (
    INSERT INTO idempotency_keys (office_id, key, request_hash, charge_id, created_at)
    SELECT office_id, key, request_hash, id, created_at FROM new_charges
    WHERE NOT EXISTS (SELECT 1 FROM revoked WHERE revoked.id = new_charges.key_id)
    ORDER BY office_id, key
    ON CONFLICT (office_id, key) DO NOTHING
    RETURNING charge_id
), charge AS (
    INSERT INTO charges (id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity,
                         extras, recipient_name, recipient_national_code, recipient_mobile, amount, breakdown,
                         tariff_reference, settlement_rows, status, verify_deadline, next_recovery_at, created_at,
                         recipient_kind, identity_check)
    SELECT id, office_id, terminal_id, merchant_id, psp_id, operator_id, service_code, quantity, extras::jsonb,
           recipient_name, recipient_national_code, recipient_mobile, amount, breakdown::jsonb, tariff_reference,
           settlement_rows::jsonb, 'created', verify_deadline, next_recovery_at, created_at, recipient_kind,
           identity_check::jsonb
    FROM new_charges WHERE id IN (SELECT charge_id FROM idem)
    RETURNING id, stan
)
SELECT charge.stan, EXISTS (SELECT 1 FROM revoked WHERE revoked.id = new_charges.key_id) AS key_revoked,
       head.last_seq, head.last_hash
FROM new_charges LEFT JOIN charge ON charge.id = new_charges.id
    LEFT JOIN receipt_chain_heads head ON head.office_id = new_charges.office_id
ORDER BY new_charges.n
"""


@dataclass(frozen=True, slots=True)
class StoredCharge:
    stan: str
    # The office's receipt chain head (last seq, last hash) as the insert saw it, None before the office's first
    # receipt: whichever gateway process completes the charge signs against it without reading it again.
    chain_head: tuple[int, str] | None


async def insert_charges(db, inserts: Sequence[ChargeInsert]) -> list[StoredCharge | KeyRevoked | None]:
    """Persists new charges under their idempotency keys in one statement (one transaction). For each insert, in
    order: its charge's STAN and its office's chain head; None if its key was already used (by an earlier request or
    another row here), its charge not stored; or KeyRevoked if its API key was revoked, nothing of it written."""
    charges = [insert.charge for insert in inserts]
    rows = await db.fetch(
        _INSERT_CHARGES,
        [c.id for c in charges],
        [c.office_id for c in charges],
        [c.terminal_id for c in charges],
        [c.merchant_id for c in charges],
        [c.psp_id for c in charges],
        [c.operator_id for c in charges],
        [c.service_code for c in charges],
        [c.quantity for c in charges],
        [_json([{"code": extra.code, "quantity": extra.quantity} for extra in c.extras]) for c in charges],
        [c.recipient.name for c in charges],
        [c.recipient.identifier for c in charges],
        [c.recipient.mobile for c in charges],
        [c.amount for c in charges],
        [_json(c.breakdown) for c in charges],
        [c.tariff_reference for c in charges],
        [
            _json([{"iban": row.iban, "amount": row.amount, "payment_id": row.payment_id} for row in c.settlement_rows])
            for c in charges
        ],
        [c.verify_deadline for c in charges],
        [c.created_at for c in charges],
        [insert.idempotency_key for insert in inserts],
        [insert.request_hash for insert in inserts],
        [c.next_recovery_at for c in charges],
        [c.recipient.kind.value for c in charges],
        [_json(c.identity.to_document()) if c.identity is not None else None for c in charges],
        [insert.key_id for insert in inserts],
    )
    return [_stored(row) for row in rows]


def _stored(row: asyncpg.Record) -> StoredCharge | KeyRevoked | None:
    if row["key_revoked"]:
        return KeyRevoked()
    if row["stan"] is None:
        return None
    return StoredCharge(row["stan"], (row["last_seq"], row["last_hash"]) if row["last_seq"] is not None else None)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


async def key_revoked(db, key_id: str | None) -> bool:
    """Whether `key_id` names a revoked API key (for the charge path's rarer turns; see _INSERT_CHARGES)."""
    return key_id is not None and bool(
        await db.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1", key_id)
    )


def charge_from_row(row: Mapping[str, Any]) -> Charge:
    """The charge a `charges` row holds (with the signed receipt when the query joined it as `receipt`)."""
    return Charge(
        id=row["id"],
        office_id=row["office_id"],
        terminal_id=row["terminal_id"],
        merchant_id=row["merchant_id"],
        psp_id=row["psp_id"],
        operator_id=row["operator_id"],
        service_code=row["service_code"],
        quantity=row["quantity"],
        extras=tuple(ExtraItem(e["code"], e["quantity"]) for e in row["extras"]),
        recipient=Recipient(
            row["recipient_name"],
            row["recipient_national_code"],
            row["recipient_mobile"],
            RecipientKind(row["recipient_kind"]),
        ),
        identity=IdentityCheck.from_document(row["identity_check"]) if row["identity_check"] is not None else None,
        amount=row["amount"],
        breakdown=row["breakdown"],
        tariff_reference=row["tariff_reference"],
        settlement_rows=tuple(SettlementRow(r["iban"], r["amount"], r["payment_id"]) for r in row["settlement_rows"]),
        verify_deadline=row["verify_deadline"],
        created_at=row["created_at"],
        status=Status(row["status"]),
        stan=row["stan"],
        rrn=row["rrn"],
        auth_code=row["auth_code"],
        masked_pan=row["masked_pan"],
        decline_code=row["decline_code"],
        tracking_code=row["tracking_code"],
        completed_at=row["completed_at"],
        receipt=row.get("receipt"),
        claim_epoch=row["claim_epoch"],
        recovery_attempts=row["recovery_attempts"],
        next_recovery_at=row["next_recovery_at"],
    )


_RECORD_REFUSAL = """
WITH idem AS (
    INSERT INTO idempotency_keys (office_id, key, request_hash, response_body, created_at)
    VALUES ($1, $13, $14, $15, $12)
    ON CONFLICT (office_id, key) DO NOTHING
    RETURNING 1
)
INSERT INTO refusals (office_id, terminal_id, operator_id, service_code, reason, requested, cap, excess,
                      payment_method, recipient_national_code, tariff_reference, created_at, details,
                      recipient_kind)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $16, $17
WHERE EXISTS (SELECT 1 FROM idem)
RETURNING id
"""


@dataclass(frozen=True)
class RefusalRecord:
    office_id: str
    terminal_id: str
    operator_id: str | None
    service_code: str | None
    reason: str
    requested: int | None
    cap: int | None
    excess: int | None
    payment_method: str | None
    recipient_kind: str | None
    recipient_identifier: str | None
    tariff_reference: str | None
    created_at: datetime
    details: dict


def _refusal_args(refusal: RefusalRecord) -> tuple:
    return (
        refusal.office_id,
        refusal.terminal_id,
        refusal.operator_id,
        refusal.service_code,
        refusal.reason,
        refusal.requested,
        refusal.cap,
        refusal.excess,
        refusal.payment_method,
        refusal.recipient_identifier,
        refusal.tariff_reference,
        refusal.created_at,
    )


async def record_refusals(
    pool, refusals: list[RefusalRecord], idempotency_key: str, request_hash: bytes, answer: dict
) -> bool:
    """Records every rule a request broke, and the answer (the first one's error body) under its idempotency key,
    in one transaction; False if the key was already used."""
    first, others = refusals[0], refusals[1:]
    async with pool.acquire() as conn, conn.transaction():
        refusal_id = await conn.fetchval(
            _RECORD_REFUSAL,
            *_refusal_args(first),
            idempotency_key,
            request_hash,
            answer,
            first.details,
            first.recipient_kind,
        )
        if refusal_id is not None and others:
            await conn.executemany(
                """INSERT INTO refusals (office_id, terminal_id, operator_id, service_code, reason, requested, cap,
                                         excess, payment_method, recipient_national_code, tariff_reference,
                                         created_at, details, recipient_kind)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
                [(*_refusal_args(other), other.details, other.recipient_kind) for other in others],
            )
    return refusal_id is not None


async def charge_status(db, charge_id: uuid.UUID) -> str | None:
    return await db.fetchval("SELECT status FROM charges WHERE id = $1", charge_id)


async def find_idempotency_key(db, office_id: str, key: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT request_hash, charge_id, void_id, refund_id, response_body FROM idempotency_keys "
        "WHERE office_id = $1 AND key = $2",
        office_id,
        key,
    )


async def save_move(
    db, moved: Charge, *, at: datetime, note: str | None = None, next_recovery_at: datetime | None = None
) -> bool:
    """Stores a pending charge's move to `moved.status` (made by `Charge.moved_to`) with its PSP references, keeping
    any already known; a pending target counts as one more recovery attempt, for the backoff. False if the charge
    was no longer pending, or was claimed after `moved.claim_epoch` was read: the caller no longer owns it."""
    result = await db.execute(
        """UPDATE charges SET status = $2,
               rrn = coalesce($3, rrn), auth_code = coalesce($4, auth_code), masked_pan = coalesce($5, masked_pan),
               decline_code = coalesce($6, decline_code), last_psp_note = coalesce($7, last_psp_note),
               next_recovery_at = $8,
               recovery_attempts = recovery_attempts + CASE WHEN $2 = ANY($10::text[]) THEN 1 ELSE 0 END,
               authorized_at = CASE WHEN $2 IN ('authorized', 'verified') THEN coalesce(authorized_at, $9)
                                    ELSE authorized_at END,
               verified_at = CASE WHEN $2 = 'verified' THEN coalesce(verified_at, $9) ELSE verified_at END,
               finalized_at = CASE WHEN $2 IN ('declined', 'cancelled', 'expired', 'reversed', 'failed')
                                   THEN $9 ELSE finalized_at END
           WHERE id = $1 AND status = ANY($10::text[]) AND claim_epoch = $11""",
        moved.id,
        moved.status.value,
        moved.rrn,
        moved.auth_code,
        moved.masked_pan,
        moved.decline_code,
        note,
        next_recovery_at,
        at,
        PENDING_STATUSES,
        moved.claim_epoch,
    )
    return result.endswith(" 1")


async def postpone_recovery(db, charge_id: uuid.UUID, *, epoch: int, next_at: datetime, note: str) -> bool:
    """Leaves the charge pending until `next_at`; False if it is no longer the caller's (see move_charge)."""
    result = await db.execute(
        "UPDATE charges SET next_recovery_at = $2, recovery_attempts = recovery_attempts + 1, last_psp_note = $3 "
        "WHERE id = $1 AND status = ANY($4::text[]) AND claim_epoch = $5",
        charge_id,
        next_at,
        note,
        PENDING_STATUSES,
        epoch,
    )
    return result.endswith(" 1")


# One statement for any number of completions (gateway/charging/group_commit.py), each all or nothing on its own:
# its charge is locked if still pending under the claim epoch its completer read, its office's chain head advanced if
# still at the (seq, hash) its receipt was signed against, and only a completion that got both writes its charge,
# receipt, outbox rows and settle call. A lost race leaves its row out and the others go ahead. The heads are taken in
# office order, so two batches waiting on each other's offices always wait in the same direction, never in a cycle;
# one office twice in a batch (its completions are serialised per process, so never in the gateway) is refused
# whole, and the batch is then retried row by row. The charges are read between the lowest and the highest id given:
# bounds that prune charges (partitioned by id) to their months when the statement starts, in its generic plan too,
# which a list of ids cannot.
_COMPLETE_CHARGES = """
WITH given AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::bigint[],
                         $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::integer[],
                         $14::timestamptz[])
        WITH ORDINALITY AS g(charge_id, rrn, auth_code, masked_pan, completed_at, tracking_code, seq, receipt_hash,
                             prev_hash, key_id, signed, messages, epoch, next_settle_at, n)
), open AS (
    SELECT given.*, c.office_id FROM charges c JOIN given ON given.charge_id = c.id
    WHERE c.id BETWEEN $16 AND $17 AND c.status = ANY($15::text[]) AND c.claim_epoch = given.epoch
    ORDER BY c.id
    FOR UPDATE OF c
), head AS (
    INSERT INTO receipt_chain_heads AS h (office_id, last_seq, last_hash)
    SELECT office_id, seq, receipt_hash FROM open ORDER BY office_id
    ON CONFLICT (office_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash
        WHERE h.last_seq = EXCLUDED.last_seq - 1
          AND h.last_hash = (SELECT open.prev_hash FROM open WHERE open.office_id = h.office_id)
    RETURNING office_id
), won AS (
    SELECT open.* FROM open JOIN head ON head.office_id = open.office_id
), ch AS (
    UPDATE charges c SET status = 'completed', rrn = won.rrn, auth_code = won.auth_code, masked_pan = won.masked_pan,
        authorized_at = coalesce(c.authorized_at, won.completed_at),
        verified_at = coalesce(c.verified_at, won.completed_at), completed_at = won.completed_at,
        finalized_at = won.completed_at, tracking_code = won.tracking_code, next_recovery_at = NULL
    FROM won
    WHERE c.id = won.charge_id AND c.id BETWEEN $16 AND $17
    RETURNING c.id
), receipt AS (
    INSERT INTO receipts (office_id, seq, tracking_code, charge_id, issued_at, key_id, hash, prev_hash, signed)
    SELECT office_id, seq, tracking_code, charge_id, completed_at, key_id, receipt_hash, prev_hash, signed::jsonb
    FROM won
), outbox_rows AS (
    INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at, updated_at,
                        next_attempt_at)
    SELECT won.office_id, won.charge_id, m.channel, m.message_id, m.recipient, m.payload, won.completed_at,
           won.completed_at, won.completed_at
    FROM won, jsonb_to_recordset(won.messages::jsonb) AS m(channel text, message_id text, recipient text, payload jsonb)
), settle_call AS (
    INSERT INTO settle_calls (charge_id, next_at)
    SELECT charge_id, next_settle_at FROM won WHERE next_settle_at IS NOT NULL
)
SELECT EXISTS (SELECT 1 FROM ch WHERE ch.id = given.charge_id) AS completed,
       EXISTS (SELECT 1 FROM open WHERE open.charge_id = given.charge_id) AS was_open
FROM given ORDER BY given.n
"""


@dataclass(frozen=True)
class Completion:
    charge_id: uuid.UUID
    rrn: str | None
    auth_code: str | None
    masked_pan: str | None
    completed_at: datetime
    tracking_code: str
    seq: int
    receipt_hash: str
    prev_hash: str
    key_id: str
    signed_receipt: dict
    messages: list[dict]
    epoch: int  # the claim epoch the completer read the charge under
    next_settle_at: datetime | None  # when to settle, for a PSP whose settle is a separate call


async def complete_charges(db, completions: Sequence[Completion]) -> list[bool | ChainMoved]:
    """Completes pending charges, each with its receipt, chain head and outbox rows, all or nothing, in one
    statement. For each, in order: True once written; False if the charge was already final or claimed since its
    `epoch`; ChainMoved, nothing of it written, if another completion took its receipt's place in the office's chain.
    A lone completion's receipt place found taken is ChainMoved too; in a batch it refuses the statement whole."""
    try:
        rows = await db.fetch(
            _COMPLETE_CHARGES,
            [c.charge_id for c in completions],
            [c.rrn for c in completions],
            [c.auth_code for c in completions],
            [c.masked_pan for c in completions],
            [c.completed_at for c in completions],
            [c.tracking_code for c in completions],
            [c.seq for c in completions],
            [c.receipt_hash for c in completions],
            [c.prev_hash for c in completions],
            [c.key_id for c in completions],
            [_json(c.signed_receipt) for c in completions],
            [_json(c.messages) for c in completions],
            [c.epoch for c in completions],
            [c.next_settle_at for c in completions],
            PENDING_STATUSES,
            min(c.charge_id for c in completions),
            max(c.charge_id for c in completions),
        )
    except asyncpg.UniqueViolationError as exc:
        if len(completions) > 1:
            raise
        return [ChainMoved(str(exc))]
    return [True if row["completed"] else ChainMoved() if row["was_open"] else False for row in rows]


async def chain_head(db, office_id: str) -> tuple[int, str] | None:
    row = await db.fetchrow("SELECT last_seq, last_hash FROM receipt_chain_heads WHERE office_id = $1", office_id)
    return (row["last_seq"], row["last_hash"]) if row else None


# The receipt is read by the charge's completed_at, its issue time: the one month partition of receipts holding it.
_CHARGE_WITH_RECEIPT = """
SELECT c.*, (SELECT r.signed FROM receipts r
             WHERE r.office_id = c.office_id AND r.charge_id = c.id AND r.kind = 'charge'
               AND r.issued_at = c.completed_at) AS receipt
FROM charges c
WHERE c.id = $1
"""


async def get_charge(db, charge_id: uuid.UUID) -> Charge | None:
    row = await db.fetchrow(_CHARGE_WITH_RECEIPT, charge_id)
    return None if row is None else charge_from_row(row)


# What makes a pending charge (or void, or refund: their tables share the columns) due for recovery, and a settle
# call (a row of settle_calls) due: shared by the claims and the probe that tells the workers whether to claim at all
# (gateway/charging/due_passes.py).
RECOVERY_DUE = "status = ANY({pending}::text[]) AND next_recovery_at <= {now}"
SETTLE_DUE = "next_at <= {now}"


async def claim_due_rows(
    db, table: str, pending: list[str], now: datetime, lease_until: datetime, limit: int
) -> list[asyncpg.Record]:
    """Takes rows of `table` (charges, voids, refunds) in a `pending` status whose recovery time has come. The lease
    keeps other workers off them meanwhile, and the new claim epoch fences out whoever held them before."""
    return await db.fetch(
        f"""UPDATE {table} t SET next_recovery_at = $2, claim_epoch = t.claim_epoch + 1
           FROM (SELECT id FROM {table}
                 WHERE {RECOVERY_DUE.format(pending="$4", now="$1")}
                 ORDER BY next_recovery_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
           WHERE t.id = due.id
           RETURNING t.*""",
        now,
        lease_until,
        limit,
        pending,
    )


async def claim_due_charges(db, now: datetime, lease_until: datetime, limit: int) -> list[Charge]:
    """Takes pending charges whose recovery time has come (claim_due_rows)."""
    return [
        charge_from_row(row) for row in await claim_due_rows(db, "charges", PENDING_STATUSES, now, lease_until, limit)
    ]


@dataclass(frozen=True)
class DueSettlement:
    charge: Charge
    attempts: int  # settle calls made so far without an approval


async def claim_due_settlements(db, now: datetime, lease_until: datetime, limit: int) -> list[DueSettlement]:
    """Takes settle calls that are due, with their charges, under a lease like recovery claims; a charge with a void
    under way is left alone (its void either cancels the settle or, refused, lets it go ahead). The charges are read
    by the claimed ids, between the lowest and the highest of them: bounds that prune charges (partitioned by id) to
    the months holding them when the statement runs, which a list of ids alone does not."""
    rows = await db.fetch(
        f"""WITH claimed AS (
               UPDATE settle_calls s SET next_at = $2
               FROM (SELECT charge_id FROM settle_calls
                     WHERE {SETTLE_DUE.format(now="$1")}
                       AND NOT EXISTS (SELECT 1 FROM voids v
                                       WHERE v.charge_id = settle_calls.charge_id AND v.status <> 'refused')
                     ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
               WHERE s.charge_id = due.charge_id
               RETURNING s.charge_id, s.attempts
           )
           SELECT c.*, claimed.attempts AS settle_attempts
           FROM charges c JOIN claimed ON claimed.charge_id = c.id
           WHERE c.id = ANY(ARRAY(SELECT charge_id FROM claimed))
             AND c.id BETWEEN (SELECT charge_id FROM claimed ORDER BY charge_id LIMIT 1)
                          AND (SELECT charge_id FROM claimed ORDER BY charge_id DESC LIMIT 1)""",
        now,
        lease_until,
        limit,
    )
    return [DueSettlement(charge_from_row(row), row["settle_attempts"]) for row in rows]


async def record_settlements(
    db, settled: list[uuid.UUID], at: datetime, postponed: list[tuple[uuid.UUID, datetime, str]]
) -> None:
    """In one statement: ends the settle calls the PSP approved, marking their charges settled, and reschedules those
    that got no approval. A settle call that is gone meanwhile (a void reversed the charge) changes nothing. The
    lowest and highest settled ids bound the months of charges read, as in the claim."""
    await db.execute(
        """WITH done AS (
               DELETE FROM settle_calls WHERE charge_id = ANY($1::uuid[])
               RETURNING charge_id
           ), settled AS (
               UPDATE charges SET settled_at = $2
               WHERE id = ANY(ARRAY(SELECT charge_id FROM done)) AND id BETWEEN $6 AND $7
           )
           UPDATE settle_calls s SET next_at = p.next_at, attempts = s.attempts + 1, last_note = p.note
           FROM unnest($3::uuid[], $4::timestamptz[], $5::text[]) AS p(charge_id, next_at, note)
           WHERE s.charge_id = p.charge_id""",
        settled,
        at,
        [p[0] for p in postponed],
        [p[1] for p in postponed],
        [p[2] for p in postponed],
        min(settled, default=None),
        max(settled, default=None),
    )


async def office_charges_between(
    db, office_id: str, start: datetime, end: datetime, limit: int
) -> list[asyncpg.Record]:
    """An office's charges created in [start, end), newest first: what the counter lists for the day (no card
    numbers are stored; the masked one is all there is)."""
    return await db.fetch(
        "SELECT id, created_at, terminal_id, operator_id, service_code, amount, status, tracking_code, masked_pan "
        "FROM charges WHERE office_id = $1 AND created_at >= $2 AND created_at < $3 "
        "ORDER BY created_at DESC LIMIT $4",
        office_id,
        start,
        end,
        limit,
    )


async def office_totals_between(db, office_id: str, start: datetime, end: datetime) -> list[asyncpg.Record]:
    """Per service, the office's completed charges created in [start, end): how many and how many rials."""
    return await db.fetch(
        "SELECT service_code, count(*) AS charges, sum(amount)::bigint AS amount FROM charges "
        "WHERE office_id = $1 AND created_at >= $2 AND created_at < $3 AND status = 'completed' "
        "GROUP BY service_code ORDER BY service_code",
        office_id,
        start,
        end,
    )
