"""Streams of charges, recovery driven to the end, replays and the conservation check, for the money-safety tests."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from gateway.charging.store import PENDING_STATUSES
from gateway.conservation.check import Report, check, fetch_ledgers
from tests.stack import charge_body

# The demo terminals of licensed offices and PSPs, with an operator of the terminal's office.
# Shorter PSP timeouts than elsewhere, so that faults resolve quickly.
PSP_TIMEOUT_S = 1.0
PURCHASE_TIMEOUT_S = 2.0
RECOVERY_GRACE_S = 4.0
TERMINALS = {"10000001": "op-11", "10000002": "op-12", "10000003": "op-21", "10000004": "op-31", "10000006": "op-51"}
FINAL_HTTP = {201, 402, 502}
_amounts = itertools.cycle(range(400_000, 560_000, 7_000))  # within every office's cap for service 1101


@dataclass
class Sent:
    """One client request and the first answer it got (status None: no answer reached the client)."""

    terminal_id: str
    idempotency_key: str
    body: dict
    status: int | None
    answer: dict | None


def charge_of(status: int, answer: dict) -> dict:
    """The charge an answer of POST /v1/charges carries (201 and 202 are the charge, errors carry it in details)."""
    return answer if status in (201, 202) else answer["error"]["details"]["charge"]


def now() -> datetime:
    return datetime.now(UTC)


def new_body(terminal_id: str) -> dict:
    return charge_body(terminal_id=terminal_id, operator_id=TERMINALS[terminal_id], amount=next(_amounts))


async def stream(gateway, keys, per_terminal: int, terminals=tuple(TERMINALS)) -> list[Sent]:
    """`per_terminal` charges on each terminal, one after another on a terminal, the terminals concurrently. A
    terminal still held by a pending charge is waited for, as a counter's POS client does: here by bringing the
    holder's recovery forward."""
    api_keys = {terminal_id: await keys(f"t:{terminal_id}") for terminal_id in terminals}

    async def on(terminal_id: str) -> list[Sent]:
        key = api_keys[terminal_id]
        sent = []
        for _ in range(per_terminal):
            body, idem = new_body(terminal_id), uuid.uuid4().hex
            status, answer = await gateway.charge(key, body, idem)
            for _ in range(100):
                if not (status == 409 and answer["error"]["code"] == "terminal_busy"):
                    break
                await resolve_now(gateway, uuid.UUID(answer["error"]["details"]["charge_id"]))
                status, answer = await gateway.charge(key, body, idem)
            sent.append(Sent(terminal_id, idem, body, status, answer))
        return sent

    return [s for batch in await asyncio.gather(*(on(t) for t in terminals)) for s in batch]


async def resolve_now(gateway, charge_id: uuid.UUID) -> None:
    """One recovery pass with this pending charge due now."""
    services = gateway.services
    await services.pool.execute(
        "UPDATE charges SET next_recovery_at = now() WHERE id = $1 AND status = ANY($2::text[])",
        charge_id,
        PENDING_STATUSES,
    )
    await services.recovery.run_once()
    await asyncio.sleep(0.1)


async def pending_notes(db, since: datetime) -> list[tuple]:
    return [
        tuple(r)
        for r in await db.fetch(
            "SELECT id, status, last_psp_note FROM charges WHERE created_at >= $1 AND status = ANY($2::text[])",
            since,
            PENDING_STATUSES,
        )
    ]


async def wait_until_final(db, since: datetime, timeout: float = 60.0) -> None:
    """Waits for the gateway's own recovery to bring every charge created since `since` to a final status."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending := await pending_notes(db, since):
        assert loop.time() < deadline, f"recovery left charges pending: {pending}"
        await asyncio.sleep(0.2)


async def drive_recovery(recovery, db, since: datetime, timeout: float = 40.0) -> int:
    """Runs recovery passes, bringing each pending charge's next attempt forward, until none created since `since`
    is pending. Returns the number of charges the passes claimed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    claimed = 0
    while pending := await pending_notes(db, since):
        assert loop.time() < deadline, f"still pending after {timeout} s: {pending}"
        await db.execute(
            "UPDATE charges SET next_recovery_at = now() WHERE created_at >= $1 "
            "AND status = ANY($2::text[]) AND next_recovery_at > now()",
            since,
            PENDING_STATUSES,
        )
        claimed += await recovery.run_once()
        await asyncio.sleep(0.1)
    return claimed


async def conservation(db, psp_hosts, since: datetime) -> Report:
    async def ledgers():
        async with aiohttp.ClientSession() as session:
            return await fetch_ledgers({psp: host.control_url for psp, host in psp_hosts.items()}, session)

    return await check(db, ledgers, since)


async def assert_conserved(db, psp_hosts, since: datetime) -> Report:
    """Clean, with nothing left in flight: every charge of the window settled."""
    report = await conservation(db, psp_hosts, since)
    assert report.clean and not report.in_flight, report.text()
    return report


async def assert_replays_agree(gateway, keys, sent: list[Sent], db) -> None:
    """Each request again with its Idempotency-Key: a final answer, equal to the first one if that was final, and
    saying what the database holds."""
    for s in sent:
        status, answer = await gateway.charge(await keys(f"t:{s.terminal_id}"), s.body, s.idempotency_key)
        assert status in FINAL_HTTP, (s, status, answer)
        if s.status in FINAL_HTTP:
            assert (status, answer) == (s.status, s.answer), s
        view = charge_of(status, answer)
        stored = await db.fetchval("SELECT status FROM charges WHERE id = $1", uuid.UUID(view["id"]))
        assert view["status"] == stored
