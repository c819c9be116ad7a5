"""Log lines never carry a full card number, an API secret, or a national code or mobile in clear."""

from __future__ import annotations

import logging

import pytest

from gateway.platform.log_redaction import RedactingFilter, install_log_redaction, redact
from simulators.psp.cards import TEST_CARDS
from tests.security.support import RecordedLog


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("recipient 0012345679 mobile 09121234567", "recipient ******5679 mobile 0912***4567"),
        ("inbox iran0012345679 refused", "inbox iran******5679 refused"),
        ("+989121234567, 00989121234567 and 989121234567", "0912***4567, 0912***4567 and 0912***4567"),
        ("کد ملی ۰۰۱۲۳۴۵۶۷۹ و همراه ۰۹۱۲۱۲۳۴۵۶۷", "کد ملی ******5679 و همراه 0912***4567"),
        ("Authorization: Bearer pk_9f8e7d6c5b4a3f2e.s3cr3t-Value_xyz", "Authorization: Bearer pk_9f8e7d6c5b4a3f2e.***"),
        (
            "tracking 111100010000000013, amount 1250000, stan 000123",
            "tracking 111100010000000013, amount 1250000, stan 000123",
        ),
    ],
)
def test_redact(raw, expected):
    assert redact(raw) == expected


def test_every_test_card_is_masked_to_first_six_and_last_four():
    for card in TEST_CARDS:
        assert redact(f"pan={card.pan};") == f"pan={card.pan[:6]}{'*' * 6}{card.pan[-4:]};"


def test_sixteen_digits_that_are_not_a_card_number_stay():
    assert redact("ref 1234567890123456") == "ref 1234567890123456"


def test_arguments_and_tracebacks_are_redacted_before_they_are_written():
    handler = RecordedLog()
    install_log_redaction([handler])
    install_log_redaction([handler])
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    logger = logging.getLogger("tests.security.redaction")
    logger.propagate = False
    logger.addHandler(handler)
    logger.warning("delivery to %s (%s) failed", "iran0012345679", "09121234567")
    try:
        raise ValueError(f"card {TEST_CARDS[0].pan} for 0012345679")
    except ValueError:
        logger.exception("could not charge")
    logger.warning("100%% done for %s", "0012345679")
    written = "\n".join(handler.lines)
    assert "0012345679" not in written and "09121234567" not in written and TEST_CARDS[0].pan not in written
    assert "delivery to iran******5679 (0912***4567) failed" in written
    assert "ValueError: card 603799******" in written
    assert "100% done for ******5679" in written
