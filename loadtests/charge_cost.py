"""What the money path's two statements cost PostgreSQL per completed charge, measured alone: a fresh database on an
embedded server with pg_stat_statements, a few thousand charges persisted and completed through the charge path's
own SQL (gateway/charging/store.py) with receipts of a real size, then per charge: each statement's time, buffers and
WAL bytes, the whole server's WAL, the transactions, and how many of the charges' row updates were HOT (no index
touched). The offices charge at once, so their inserts are grouped as the gateway groups them
and their completions likewise (gateway/charging/group_commit.py); `--one-by-one` gives each insert and each
completion a statement of its own.

    python -m loadtests.charge_cost --charges 3000
    python -m loadtests.charge_cost --charges 3000 --separate-settle   # a PSP whose settle is a call of its own
    python -m loadtests.charge_cost --charges 3000 --deliver   # and the outbox's sends and delivery reports
    python -m loadtests.charge_cost --charges 20000 --vacuum   # then what a vacuum of the dead row versions costs
    python -m loadtests.charge_cost --charges 30000 --deliver --analyze   # then what autovacuum's ANALYZE costs

No gateway, PSP or Redis: the figures are the database's alone, so they are steady on a shared machine where the
full benchmark's are not (docs/performance.md, "PostgreSQL cost per charge")."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from uuid_utils.compat import uuid7

from gateway.charging import store
from gateway.charging.group_commit import ChargeCompletions, ChargeInserts, open_completion_pool
from gateway.charging.settle_worker import LEASE
from gateway.core.charge import Charge, Recipient
from gateway.core.psp import SettlementRow
from gateway.messaging.outbox import store as outbox
from gateway.platform.config import PROJECT_ROOT
from gateway.platform.db import create_pool
from gateway.platform.migrate import apply_migrations
from loadtests.database_statistics import SERVER_SETTINGS
from simulators.devstack.embedded import EmbeddedStack, free_port

_STATEMENTS = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query, calls, total_exec_time, wal_bytes, wal_records,
       shared_blks_hit, shared_blks_dirtied
FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT ILIKE '%pg_stat%'
"""
_DEAD = """
SELECT relid::regclass::text AS name, n_dead_tup AS dead FROM pg_stat_user_tables
WHERE n_dead_tup > 0 AND relname ~ '^(charges|outbox|receipt|idempotency_keys|settle_calls)' ORDER BY n_dead_tup DESC
"""
_INDEX_PAGES = """
SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) / current_setting('block_size')::int AS pages
FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1
"""
_WRITTEN = """
SELECT relid::regclass::text AS name FROM pg_stat_user_tables
WHERE n_live_tup > 0 AND relname ~ '^(charges|outbox|receipts|idempotency_keys)' ORDER BY 1
"""
_UPDATES = """
SELECT relname, n_tup_upd AS updated, n_tup_hot_upd AS hot FROM pg_stat_user_tables
WHERE relname ~ '^(charges|receipt_chain_heads|settle_calls|outbox)'
"""


def new_charge(office: int, now: datetime, next_recovery_at: datetime) -> Charge:
    """A charge as the charge path persists it before the PSP is called."""
    return Charge(
        id=uuid.UUID(str(uuid7())),
        office_id=f"office-{office:05d}",
        terminal_id=f"t:{office:08d}",
        merchant_id=f"m:{office:08d}",
        psp_id="sep",
        operator_id=f"op-{office:05d}",
        service_code="passport-renewal",
        quantity=1,
        extras=(),
        recipient=Recipient("مریم احمدی", "0012345678", "09121234567"),
        amount=650_000,
        breakdown={"fee": 450_000, "office_fee": 150_000, "vat": 50_000},
        tariff_reference="tariff-1405-01",
        settlement_rows=(
            SettlementRow("IR820540102680020817909002", 500_000, "1234567890"),
            SettlementRow("IR062960000000100324200001", 150_000, "0987654321"),
        ),
        verify_deadline=now + timedelta(minutes=5),
        created_at=now,
        next_recovery_at=next_recovery_at,
    )


def _signed_receipt(charge: Charge, seq: int, tracking_code: str, prev_hash: str) -> dict:
    """A signed receipt of the size the gateway issues (about 1.5 kB of JSON)."""
    return {
        "receipt": {
            "office_code": charge.office_id,
            "seq": seq,
            "tracking_code": tracking_code,
            "service_name": "تمدید گذرنامه",
            "recipient_name": charge.recipient.name,
            "amount": charge.amount,
            "licence_holder": "دفتر پیشخوان دولت شماره ۱۲۳",
            "office_address": "تهران، خیابان انقلاب، پلاک ۱۰",
            "breakdown": dict(charge.breakdown),
            "charge_id": str(charge.id),
            "prev_hash": prev_hash,
            "key_id": "key-2026",
            "rrn": "123456789012",
            "masked_pan": "603799******1234",
        },
        "signature": secrets.token_hex(64),
    }


def new_completion(
    charge: Charge, seq: int, prev_hash: str, now: datetime, *, settle: bool = False
) -> store.Completion:
    """The completion of an approved charge as the charge path writes it, at `seq` of its office's receipt chain."""
    tracking_code = f"{charge.office_id[-5:]}{seq:09d}"
    return store.Completion(
        charge_id=charge.id,
        rrn=f"{secrets.randbelow(10**12):012d}",
        auth_code="654321",
        masked_pan="603799******1234",
        completed_at=now,
        tracking_code=tracking_code,
        seq=seq,
        receipt_hash=secrets.token_hex(32),
        prev_hash=prev_hash,
        key_id="key-2026",
        signed_receipt=_signed_receipt(charge, seq, tracking_code, prev_hash),
        messages=[
            {
                "channel": "sms",
                "message_id": f"sms-{charge.id.hex}",
                "recipient": charge.recipient.mobile,
                "payload": {"sender": "3000123", "mask": None, "text": f"پرداخت {tracking_code} انجام شد"},
            },
            {
                "channel": "poosheh",
                "message_id": f"poosheh-{charge.id.hex}",
                "recipient": "0012345678",
                "payload": {"tracking_code": tracking_code},
            },
        ],
        epoch=0,
        next_settle_at=now if settle else None,
    )


async def _counters(conn) -> dict:
    await conn.execute("SELECT pg_stat_force_next_flush()")
    return {
        "statements": {row["query"]: dict(row) for row in await conn.fetch(_STATEMENTS)},
        "lsn": await conn.fetchval("SELECT pg_current_wal_lsn()"),
        "commits": await conn.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"),
        "updates": {row["relname"]: (row["updated"], row["hot"]) for row in await conn.fetch(_UPDATES)},
    }


def _per_charge(before: dict, after: dict, charges: int, wal_bytes: int) -> dict:
    statements = []
    for query, end in after["statements"].items():
        start = before["statements"].get(query, {})
        calls = end["calls"] - start.get("calls", 0)
        if calls <= 0:
            continue
        statements.append(
            {
                "query": query,
                "calls": round(calls / charges, 3),
                "ms": round((end["total_exec_time"] - start.get("total_exec_time", 0.0)) / charges, 4),
                "wal_bytes": round(float(end["wal_bytes"] - start.get("wal_bytes", 0)) / charges),
                "wal_records": round((end["wal_records"] - start.get("wal_records", 0)) / charges, 1),
                "blocks_hit": round((end["shared_blks_hit"] - start.get("shared_blks_hit", 0)) / charges, 1),
            }
        )
    statements.sort(key=lambda row: row["ms"], reverse=True)
    hot_updates = {}
    for table, (updated, hot) in after["updates"].items():
        start_updated, start_hot = before["updates"].get(table, (0, 0))
        if updated > start_updated:
            hot_updates[table] = f"{hot - start_hot}/{updated - start_updated}"
    return {
        "charges": charges,
        "statement_ms": round(sum(row["ms"] for row in statements), 4),
        "wal_bytes": round(wal_bytes / charges),
        "transactions": round((after["commits"] - before["commits"]) / charges, 3),
        "hot_updates": hot_updates,
        "statements": [row for row in statements if row["calls"] >= 0.01],
    }


async def _settle_calls(pool, completing: asyncio.Future) -> None:
    """The settle worker's statements as it runs them while charges complete: a claim of up to 100 due settle calls
    and one statement recording their results (every call approved: no PSP here), every 0.1 s until the charges are
    done and nothing is due."""
    while True:
        last_round = completing.done()
        while due := await store.claim_due_settlements(pool, datetime.now(UTC), datetime.now(UTC) + LEASE, 100):
            await store.record_settlements(pool, [item.charge.id for item in due], datetime.now(UTC), [])
        if last_round:
            return
        await asyncio.sleep(0.1)


async def _deliveries(pool, completing: asyncio.Future) -> None:
    """The outbox dispatcher's and the delivery-report poller's statements as they run them while charges complete,
    every 0.1 s until the charges are done and nothing is due: claims of up to 100 messages and one statement
    recording that the providers took them (the SMS then awaits a delivery report, due at once; the inbox's message
    is delivered by being taken), then claims of up to 100 due reports and one statement recording each delivered."""
    lease = timedelta(seconds=30)
    while True:
        last_round = completing.done()
        now = datetime.now(UTC)
        while due := await outbox.claim_due_messages(pool, now, now + lease, 100):
            accepted = [
                outbox.Acceptance(message, f"p-{message.id}", now if message.channel == "sms" else None)
                for message in due
            ]
            await outbox.record_accepted(pool, accepted, now)
        while polled := await outbox.claim_due_reports(pool, now, now + lease, 100):
            reports = [outbox.ReportUpdate(row.id, row.created_at, "delivered", "delivered", None) for row in polled]
            await outbox.record_reports(pool, reports, now + lease, now)
        if last_round:
            return
        await asyncio.sleep(0.1)


async def vacuum(conn) -> dict:
    """Each table the charges left dead row versions in, vacuumed as autovacuum would after them: the dead versions,
    the time the vacuum took and the pages of each index it had to read whole."""
    tables = {}
    for row in await conn.fetch(_DEAD):
        started = time.perf_counter()
        await conn.execute(f"VACUUM (ANALYZE false) {row['name']}")
        tables[row["name"]] = {
            "dead_tuples": row["dead"],
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "index_pages": {index["name"]: index["pages"] for index in await conn.fetch(_INDEX_PAGES, row["name"])},
        }
    return tables


async def analyze(conn, repeats: int = 3) -> dict:
    """Each table the charges filled, analysed as autovacuum would while its month is young: the median time of
    `repeats` runs and the rows in ANALYZE's sample (300 per unit of the largest statistics target of its columns)."""
    sampled: list[str] = []

    def listen(_conn, message) -> None:
        sampled.append(message.message)

    conn.add_log_listener(listen)
    tables = {}
    try:
        for row in await conn.fetch(_WRITTEN):
            times = []
            for _ in range(repeats):
                sampled.clear()
                started = time.perf_counter()
                await conn.execute(f"ANALYZE VERBOSE {row['name']}")
                times.append((time.perf_counter() - started) * 1000)
            rows = re.search(r"(\d+) rows in sample", " ".join(sampled))
            tables[row["name"]] = {
                "ms": round(statistics.median(times), 1),
                "rows_in_sample": int(rows.group(1)) if rows else None,
            }
    finally:
        conn.remove_log_listener(listen)
    return tables


async def measure(
    database_url: str,
    charges: int,
    offices: int,
    *,
    one_by_one: bool = False,
    separate_settle: bool = False,
    deliver: bool = False,
    then_vacuum: bool = False,
    then_analyze: bool = False,
) -> dict:
    pool = await create_pool(database_url, offices + 2, min_size=offices + 2)
    inserts = ChargeInserts(pool)
    completion_pool = await open_completion_pool(database_url)
    completions = ChargeCompletions(completion_pool)
    heads = dict.fromkeys(range(offices), (0, "0" * 64))

    async def persist(db, insert: store.ChargeInsert) -> store.StoredCharge | None:
        if one_by_one:
            [stored] = await store.insert_charges(db, [insert])
            assert not isinstance(stored, store.KeyRevoked)
            return stored
        return await inserts.insert(insert)

    async def complete(db, completion: store.Completion) -> bool | store.ChainMoved:
        if one_by_one:
            [completed] = await store.complete_charges(db, [completion])
            return completed
        return await completions.complete(completion)

    async def one_office(office: int, count: int) -> None:
        async with pool.acquire() as db:
            for _ in range(count):
                now = datetime.now(UTC)
                charge = new_charge(office, now, now + timedelta(seconds=60))
                stored = await persist(db, store.ChargeInsert(charge, f"key-{charge.id.hex}", secrets.token_bytes(32)))
                assert stored is not None
                seq, prev_hash = heads[office]
                completed_at = datetime.now(UTC)
                completion = new_completion(charge, seq + 1, prev_hash, completed_at, settle=separate_settle)
                assert await complete(db, completion) is True, charge.id
                heads[office] = (seq + 1, completion.receipt_hash)

    async with pool.acquire() as conn:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("CHECKPOINT")
        await conn.execute("SELECT pg_stat_statements_reset()")
        before = await _counters(conn)
        before["commits"] += 1  # this transaction's own
    started = time.perf_counter()
    per_office, extra = divmod(charges, offices)
    completing = asyncio.gather(*(one_office(o, per_office + (o < extra)) for o in range(offices)))
    await asyncio.gather(
        completing,
        *([_settle_calls(pool, completing)] if separate_settle else []),
        *([_deliveries(pool, completing)] if deliver else []),
    )
    seconds = time.perf_counter() - started
    await pool.close()  # a backend flushes its statistics when it ends
    await completion_pool.close()
    conn = await asyncpg.connect(database_url)
    try:
        after = await _counters(conn)
        wal_bytes = await conn.fetchval("SELECT $1::pg_lsn - $2::pg_lsn", after["lsn"], before["lsn"])
        vacuumed = {"vacuum": await vacuum(conn)} if then_vacuum else {}
        analysed = {"analyze": await analyze(conn)} if then_analyze else {}
    finally:
        await conn.close()
    return {
        "seconds": round(seconds, 1),
        "inserts and completions": "one by one" if one_by_one else "grouped",
        **_per_charge(before, after, charges, int(wal_bytes)),
        **vacuumed,
        **analysed,
    }


async def run(args: argparse.Namespace) -> dict:
    stack = None
    server_url = args.database_url
    if server_url is None:
        stack = EmbeddedStack(args.var_dir, free_port(), free_port(), persistent=False, server_settings=SERVER_SETTINGS)
        stack.start()
        server_url = stack.database_url
    try:
        name = f"pishkhan_cost_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = server_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            await apply_migrations(url)
            return await measure(
                url,
                args.charges,
                args.offices,
                one_by_one=args.one_by_one,
                separate_settle=args.separate_settle,
                deliver=args.deliver,
                then_vacuum=args.vacuum,
                then_analyze=args.analyze,
            )
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    finally:
        if stack is not None:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--charges", type=int, default=3000)
    parser.add_argument("--offices", type=int, default=8, help="offices charging at once, one connection each")
    parser.add_argument(
        "--separate-settle",
        action="store_true",
        help="charges of a PSP whose settle is a separate call: completions schedule it, the settle statements run",
    )
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="each charge's insert and completion in statements of their own, not grouped with the other offices'",
    )
    parser.add_argument(
        "--deliver",
        action="store_true",
        help="the outbox's statements run beside: messages claimed and taken, delivery reports claimed and recorded",
    )
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="then vacuum each table with dead row versions and report its time and the pages of its indexes",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="then ANALYZE each table the charges filled and report its median time and the rows in its sample",
    )
    parser.add_argument("--database-url", help="a server started with pg_stat_statements (default: an embedded one)")
    parser.add_argument("--var-dir", type=Path, default=PROJECT_ROOT / "var" / "charge-cost")
    print(json.dumps(asyncio.run(run(parser.parse_args())), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
