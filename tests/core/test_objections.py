"""The seven days to object, and attachments recognised by their content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.core.objections import attachment_type, may_object

NOTICE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_an_objection_is_open_for_seven_days_from_the_notice():
    assert not may_object(None, NOTICE)
    assert may_object(NOTICE, NOTICE)
    assert may_object(NOTICE, NOTICE + timedelta(days=7) - timedelta(seconds=1))
    assert not may_object(NOTICE, NOTICE + timedelta(days=7))
    assert not may_object(NOTICE, NOTICE - timedelta(seconds=1))


def test_attachments_are_known_by_their_first_bytes_not_their_name():
    assert attachment_type(b"%PDF-1.7\n...") == "application/pdf"
    assert attachment_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert attachment_type(b"\xff\xd8\xff\xe0....") == "image/jpeg"
    assert attachment_type(b"<html><script>alert(1)</script>") is None
    assert attachment_type(b"MZ\x90\x00") is None
    assert attachment_type(b"") is None
