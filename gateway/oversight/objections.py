"""Objections to findings: the notice to the office (an SMS to its manager, through the outbox, and a line on its
page), the objection within seven days with its attachments, the regulator's decision, and the append-only history.
An upheld objection sets the finding aside (`violations.set_aside_at`), so it leaves the scorecard and its penalty
arithmetic."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.core.errors import AttachmentRefused, ObjectionRefused, ResourceMissing
from gateway.core.jalali import format_jalali_datetime
from gateway.core.objections import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_TEXT,
    attachment_type,
    may_object,
    objection_deadline,
)
from gateway.core.text import to_persian_digits

NOTICE_BATCH = 1000


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def notice_text(office_name: str, findings: int, deadline: datetime) -> str:
    return to_persian_digits(
        f"دفتر {office_name}: {findings} یافتهٔ نظارتی تازه برای دفتر ثبت شد. ظرف مدت هفت روز "
        f"(تا {format_jalali_datetime(deadline)}) می‌توانید اعتراض خود را در سامانه ارسال کنید."
    )


async def notify_new_findings(conn, now: datetime) -> int:
    """Marks the findings not yet notified as notified now (their seven days start) and queues one SMS per office to
    each of its managers who has a mobile; returns how many findings were notified."""
    async with conn.transaction():
        fresh = await conn.fetch(
            """UPDATE violations SET notified_at = $1
               WHERE id IN (SELECT id FROM violations WHERE notified_at IS NULL ORDER BY id LIMIT $2
                            FOR UPDATE SKIP LOCKED)
               RETURNING id, office_id""",
            now,
            NOTICE_BATCH,
        )
        if not fresh:
            return 0
        await conn.execute(
            """INSERT INTO objection_history (violation_id, office_id, event, actor, at)
               SELECT id, office_id, 'notified', 'gateway', $3
               FROM unnest($1::bigint[], $2::text[]) AS f(id, office_id)""",
            [row["id"] for row in fresh],
            [row["office_id"] for row in fresh],
            now,
        )
        per_office: dict[str, list[int]] = {}
        for row in fresh:
            per_office.setdefault(row["office_id"], []).append(row["id"])
        managers = await conn.fetch(
            """SELECT p.username, p.mobile, p.office_id, o.name, o.sms_line
               FROM people p JOIN offices o ON o.id = p.office_id
               WHERE p.role = 'office' AND p.mobile IS NOT NULL AND p.disabled_at IS NULL
                     AND p.office_id = ANY($1::text[])""",
            list(per_office),
        )
        for manager in managers:
            ids = per_office[manager["office_id"]]
            text = notice_text(manager["name"], len(ids), objection_deadline(now))
            await conn.execute(
                """INSERT INTO outbox (office_id, charge_id, channel, message_id, recipient, payload, created_at,
                                       updated_at, next_attempt_at)
                   VALUES ($1, NULL, 'sms', $2, $3, $4, $5, $5, $5)""",
                manager["office_id"],
                f"notice-{min(ids)}-{manager['username']}",
                manager["mobile"],
                {"sender": manager["sms_line"], "text": text},
                now,
            )
    return len(fresh)


_FINDING_COLUMNS = """v.id, v.office_id, v.type, v.evidence_key, v.evidence, v.occurred_at, v.terminal_id,
    v.operator_id, v.service_code, v.amount, v.excess, v.detected_at, v.notified_at, v.set_aside_at,
    o.id AS objection_id, o.state AS objection_state, o.text AS objection_text, o.filed_at, o.decision_reason"""


async def office_findings(db, office_id: str, since: datetime, until: datetime, limit: int) -> list:
    """The office's findings in [since, until), newest first, each with its objection (if any)."""
    return list(
        await db.fetch(
            f"""SELECT {_FINDING_COLUMNS} FROM violations v LEFT JOIN objections o ON o.violation_id = v.id
                WHERE v.office_id = $1 AND v.occurred_at >= $2 AND v.occurred_at < $3
                ORDER BY v.occurred_at DESC, v.id DESC LIMIT $4""",
            office_id,
            since,
            until,
            limit,
        )
    )


def checked_uploads(uploads: Sequence[Upload]) -> list[tuple[Upload, str]]:
    """Each upload with the media type its content shows; AttachmentRefused for anything else."""
    if len(uploads) > MAX_ATTACHMENTS:
        raise AttachmentRefused(f"At most {MAX_ATTACHMENTS} attachments.", param="attachments")
    checked = []
    for upload in uploads:
        if len(upload.content) > MAX_ATTACHMENT_BYTES:
            raise AttachmentRefused(f"{upload.filename} is over {MAX_ATTACHMENT_BYTES} bytes.", param="attachments")
        media_type = attachment_type(upload.content)
        if media_type is None:
            raise AttachmentRefused(f"{upload.filename} is not a PDF, PNG or JPEG file.", param="attachments")
        checked.append((upload, media_type))
    return checked


async def file_objection(
    pool, *, violation_id: int, office_id: str, username: str, text: str, uploads: Sequence[Upload], now: datetime
) -> int:
    text = text.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if not text or len(text) > MAX_TEXT:
        raise ObjectionRefused(f"The objection's text is 1 to {MAX_TEXT} characters.", param="text")
    attachments = checked_uploads(uploads)
    async with pool.acquire() as conn, conn.transaction():
        finding = await conn.fetchrow(
            "SELECT notified_at FROM violations WHERE id = $1 AND office_id = $2 FOR UPDATE", violation_id, office_id
        )
        if finding is None:
            raise ResourceMissing("No such finding.")
        if not may_object(finding["notified_at"], now):
            raise ObjectionRefused("The seven days to object to this finding are over.")
        objection_id = await conn.fetchval(
            """INSERT INTO objections (violation_id, office_id, text, filed_by, filed_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (violation_id) DO NOTHING RETURNING id""",
            violation_id,
            office_id,
            text,
            username,
            now,
        )
        if objection_id is None:
            raise ObjectionRefused("An objection to this finding was filed already.")
        for upload, media_type in attachments:
            await conn.execute(
                """INSERT INTO objection_attachments (objection_id, filename, media_type, size, sha256, content)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                objection_id,
                upload.filename.replace("\x00", "")[:200],
                media_type,
                len(upload.content),
                hashlib.sha256(upload.content).hexdigest(),
                upload.content,
            )
        await _history(conn, violation_id, office_id, "filed", username, text, now)
    return int(objection_id)


async def decide(
    pool, *, objection_id: int, office_ids: Sequence[str], upheld: bool, reason: str, username: str, now: datetime
) -> None:
    """The regulator's decision on an open objection of one of `office_ids`, with its reason."""
    reason = reason.replace("\x00", "").strip()
    if not reason or len(reason) > MAX_TEXT:
        raise ObjectionRefused(f"A decision gives its reason (1 to {MAX_TEXT} characters).", param="reason")
    state = "upheld" if upheld else "rejected"
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """UPDATE objections SET state = $2, decided_by = $3, decided_at = $4, decision_reason = $5
               WHERE id = $1 AND state = 'open' AND office_id = ANY($6::text[])
               RETURNING violation_id, office_id""",
            objection_id,
            state,
            username,
            now,
            reason,
            list(office_ids),
        )
        if row is None:
            exists = await conn.fetchval(
                "SELECT true FROM objections WHERE id = $1 AND office_id = ANY($2::text[])",
                objection_id,
                list(office_ids),
            )
            raise (
                ObjectionRefused("This objection is decided already.")
                if exists
                else ResourceMissing("No such objection.")
            )
        if upheld:
            await conn.execute("UPDATE violations SET set_aside_at = $2 WHERE id = $1", row["violation_id"], now)
        await _history(conn, row["violation_id"], row["office_id"], state, username, reason, now)


async def _history(conn, violation_id: int, office_id: str, event: str, actor: str, note: str, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO objection_history (violation_id, office_id, event, actor, note, at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        violation_id,
        office_id,
        event,
        actor,
        note,
        now,
    )


async def objections_of(db, office_ids: Sequence[str], state: str | None, limit: int) -> list:
    """Objections of these offices (open first, oldest first), with their finding and attachments' names."""
    return list(
        await db.fetch(
            """SELECT o.*, v.type, v.occurred_at, v.amount, v.excess, v.evidence, v.notified_at,
                      coalesce((SELECT jsonb_agg(jsonb_build_object('id', a.id, 'filename', a.filename,
                                                                    'media_type', a.media_type, 'size', a.size)
                                                 ORDER BY a.id)
                                FROM objection_attachments a WHERE a.objection_id = o.id), '[]') AS attachments
               FROM objections o JOIN violations v ON v.id = o.violation_id
               WHERE o.office_id = ANY($1::text[]) AND ($2::text IS NULL OR o.state = $2)
               ORDER BY o.state <> 'open', o.filed_at LIMIT $3""",
            list(office_ids),
            state,
            limit,
        )
    )


async def history(db, violation_ids: Sequence[int]) -> dict[int, list]:
    rows = await db.fetch(
        "SELECT * FROM objection_history WHERE violation_id = ANY($1::bigint[]) ORDER BY id", list(violation_ids)
    )
    found: dict[int, list] = {}
    for row in rows:
        found.setdefault(row["violation_id"], []).append(row)
    return found


async def attachment(db, attachment_id: int, office_ids: Sequence[str]):
    return await db.fetchrow(
        """SELECT a.filename, a.media_type, a.content FROM objection_attachments a
           JOIN objections o ON o.id = a.objection_id WHERE a.id = $1 AND o.office_id = ANY($2::text[])""",
        attachment_id,
        list(office_ids),
    )
