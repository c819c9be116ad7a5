"""The recovery decisions: only an explicit PSP answer finalises, silence waits, the deadline forces a reversal."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.charging.psp_pool import PspPool
from gateway.charging.recovery import RecoveryWorker
from gateway.charging.service import ChargeService
from gateway.core.psp import TxnState
from gateway.core.recovery_rules import DEADLINE_MARGIN, MAX_BACKOFF, Action, backoff, decide

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
FAR = NOW + timedelta(minutes=15)  # the PSP's verify deadline, far off
NEAR = NOW + DEADLINE_MARGIN - timedelta(seconds=1)
HOT_PATH_DONE = NOW - timedelta(seconds=1)  # the hot path's lease ended a second ago
HOT_PATH_RUNNING = NOW + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("state", "deadline", "hot_path_done_at", "action"),
    [
        (TxnState.APPROVED, FAR, HOT_PATH_DONE, Action.VERIFY_AND_COMPLETE),
        (TxnState.APPROVED, NEAR, HOT_PATH_DONE, Action.REVERSE),
        (TxnState.VERIFIED, FAR, HOT_PATH_DONE, Action.COMPLETE),
        (TxnState.VERIFIED, NOW - timedelta(hours=1), HOT_PATH_DONE, Action.COMPLETE),  # past the deadline too
        (TxnState.SETTLED, NEAR, HOT_PATH_DONE, Action.COMPLETE),
        (TxnState.DECLINED, FAR, HOT_PATH_DONE, Action.MARK_DECLINED),
        (TxnState.REVERSED, FAR, HOT_PATH_DONE, Action.MARK_REVERSED),
        (TxnState.NOT_FOUND, FAR, HOT_PATH_DONE, Action.MARK_EXPIRED),
        (TxnState.NOT_FOUND, FAR, HOT_PATH_RUNNING, Action.RETRY_LATER),  # the purchase may still be on its way
        (TxnState.PENDING, FAR, HOT_PATH_RUNNING, Action.RETRY_LATER),  # the cardholder may still be at the PIN
        (TxnState.PENDING, FAR, HOT_PATH_DONE, Action.REVERSE),  # an abandoned push is cancelled
        (TxnState.UNKNOWN, FAR, HOT_PATH_DONE, Action.RETRY_LATER),  # silence never finalises
        (TxnState.UNKNOWN, NEAR, HOT_PATH_DONE, Action.REVERSE),
    ],
)
def test_decisions(state, deadline, hot_path_done_at, action):
    assert decide(state, NOW, deadline, hot_path_done_at) is action


def test_no_silence_marks_a_charge_final():
    finalising = {
        Action.COMPLETE,
        Action.MARK_DECLINED,
        Action.MARK_REVERSED,
        Action.MARK_EXPIRED,
        Action.VERIFY_AND_COMPLETE,
    }
    for deadline in (FAR, NEAR, NOW - timedelta(hours=1)):
        for done_at in (HOT_PATH_DONE, HOT_PATH_RUNNING):
            assert decide(TxnState.UNKNOWN, NOW, deadline, done_at) not in finalising


def test_backoff_grows_with_jitter_and_is_capped():
    for attempts in range(8):
        step = timedelta(seconds=2**attempts)
        delays = {backoff(attempts) for _ in range(50)}
        assert all(min(step, MAX_BACKOFF) / 2 <= d <= min(step, MAX_BACKOFF) for d in delays)
        assert len(delays) > 1
    assert backoff(40) <= MAX_BACKOFF


def test_recovery_refuses_a_grace_shorter_than_a_purchase_and_its_verify():
    psps = PspPool(timeout=2.0, purchase_timeout=3.0, endpoint_overrides={})

    def worker(grace_s: float) -> RecoveryWorker:
        charges = ChargeService(
            None, None, psps, None, None, None, completion_pool=None, recovery_grace=timedelta(seconds=grace_s)
        )
        return RecoveryWorker(None, psps, charges)

    with pytest.raises(ValueError, match="must cover a purchase and its verify"):
        worker(4.9)
    assert worker(5.0).charges.recovery_grace == timedelta(seconds=5)
