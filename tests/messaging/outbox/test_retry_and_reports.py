"""The pure decisions: how long to back off, and what a delivery report changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.messaging import DeliveryStatus
from gateway.messaging.outbox import RetryPolicy, report_update
from gateway.messaging.outbox.delivery_reports import REPORT_WINDOW
from gateway.messaging.outbox.store import ClaimedReport

attempts = st.integers(min_value=1, max_value=10_000)
seconds = st.floats(min_value=0.001, max_value=3600, allow_nan=False)


@given(attempt=attempts, base=seconds, cap=seconds, seed=st.integers())
def test_delay_is_in_the_upper_half_of_a_doubling_ceiling_under_the_cap(attempt, base, cap, seed):
    policy = RetryPolicy(base=base, cap=cap, rng=random.Random(seed))
    ceiling = min(cap, base * 2 ** min(attempt - 1, 60))
    assert ceiling / 2 <= policy.delay(attempt) <= ceiling


@given(attempt=attempts, retry_after=st.floats(min_value=0, max_value=86_400, allow_nan=False), seed=st.integers())
def test_never_sooner_than_the_provider_asked(attempt, retry_after, seed):
    policy = RetryPolicy(base=1, cap=60, rng=random.Random(seed))
    assert policy.delay(attempt, retry_after) >= retry_after


def test_the_ceiling_doubles_then_stops_at_the_cap():
    class Top(random.Random):  # always draws the top of the range, so the delay is the ceiling itself
        def uniform(self, a, b):
            return b

    policy = RetryPolicy(base=2, cap=60, rng=Top())
    assert [policy.delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_jitter_spreads_dispatchers_that_failed_together():
    policy = RetryPolicy(base=10, cap=600, rng=random.Random(7))
    delays = {round(policy.delay(3), 6) for _ in range(50)}
    assert len(delays) == 50 and min(delays) >= 20 and max(delays) <= 40


SENT_AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
EVERY = timedelta(seconds=30)
CLAIMED = ClaimedReport(id=7, channel="sms", message_id="sms-1", sent_at=SENT_AT, created_at=SENT_AT)


@pytest.mark.parametrize("status", [DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED])
def test_a_final_report_becomes_the_status_and_ends_polling(status):
    update = report_update(CLAIMED, status, SENT_AT + timedelta(minutes=1), EVERY)
    assert (update.id, update.delivery_status, update.final_status, update.next_poll_at) == (
        7,
        status.value,
        status.value,
        None,
    )


@pytest.mark.parametrize("status", [DeliveryStatus.QUEUED, DeliveryStatus.SENT])
def test_a_report_on_the_way_is_stored_and_polled_again(status):
    now = SENT_AT + timedelta(minutes=1)
    update = report_update(CLAIMED, status, now, EVERY)
    assert (update.delivery_status, update.final_status, update.next_poll_at) == (status.value, None, now + EVERY)


def test_no_answer_keeps_the_last_report_and_polls_again():
    now = SENT_AT + timedelta(minutes=1)
    update = report_update(CLAIMED, DeliveryStatus.UNKNOWN, now, EVERY)
    assert (update.delivery_status, update.final_status, update.next_poll_at) == (None, None, now + EVERY)


def test_polling_stops_when_the_report_window_ends():
    last_in_window = SENT_AT + REPORT_WINDOW - EVERY
    assert report_update(CLAIMED, DeliveryStatus.SENT, last_in_window, EVERY).next_poll_at == SENT_AT + REPORT_WINDOW
    late = report_update(CLAIMED, DeliveryStatus.SENT, last_in_window + timedelta(seconds=1), EVERY)
    assert (late.delivery_status, late.final_status, late.next_poll_at) == ("sent", None, None)
