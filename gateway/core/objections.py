"""The office's right to object to a finding (CRA, seed 003: «ظرف مدت هفت روز، اعتراض خود را ... ارسال کنند»):
seven days from the notice, text with attachments (PDF or image, recognised by their content, size-limited)."""

from __future__ import annotations

from datetime import datetime, timedelta

OBJECTION_WINDOW = timedelta(days=7)
MAX_TEXT = 4000
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024
MAX_ATTACHMENTS = 3
# The first bytes of each accepted kind of file; what a file says its type is counts for nothing.
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def objection_deadline(notified_at: datetime) -> datetime:
    return notified_at + OBJECTION_WINDOW


def may_object(notified_at: datetime | None, now: datetime) -> bool:
    """Open from the notice for seven days; closed before a notice and after the seventh day."""
    return notified_at is not None and notified_at <= now < objection_deadline(notified_at)


def attachment_type(content: bytes) -> str | None:
    """The media type the content shows it is (PDF, PNG or JPEG), or None for anything else."""
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    return None
