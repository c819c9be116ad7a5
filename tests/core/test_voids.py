"""The void rules: which charges may be voided, until when, and what recovery does with a pending void."""

from datetime import timedelta

import pytest

from gateway.core.charge import Charge, Status
from gateway.core.errors import ChargeAlreadyVoided, ChargeNotCompleted, VoidWindowClosed
from gateway.core.psp import TxnState
from gateway.core.voids import (
    Void,
    VoidAction,
    VoidStatus,
    assess_void,
    decide_void,
    window_closes_at,
)
from tests.core.support import PSP_TIMEOUT, T0, charge, void_of


def assess(c: Charge, existing: Void | None = None, *, settled: bool = False, at: timedelta = timedelta(minutes=5)):
    closes = window_closes_at(c, timedelta(hours=1))
    assess_void(c, existing, settled=settled, now=T0 + at, closes_at=closes, psp_timeout=PSP_TIMEOUT)


def test_a_completed_charge_within_the_window_may_be_voided():
    assess(charge())


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.COMPLETED])
def test_only_a_completed_charge_may_be_voided(status):
    with pytest.raises(ChargeNotCompleted):
        assess(charge(status))


@pytest.mark.parametrize("status", [VoidStatus.REQUESTED, VoidStatus.SENT, VoidStatus.REVERSED])
def test_a_charge_voided_or_being_voided_is_refused(status):
    c = charge()
    with pytest.raises(ChargeAlreadyVoided):
        assess(c, void_of(c, status))


def test_a_refused_void_points_to_a_refund():
    c = charge()
    with pytest.raises(VoidWindowClosed) as refused:
        assess(c, void_of(c, VoidStatus.REFUSED))
    assert refused.value.details["next_step"] == "refund"


def test_the_window_closes_one_psp_timeout_early_and_a_settled_charge_is_past_it():
    assess(charge(), at=timedelta(hours=1) - PSP_TIMEOUT - timedelta(seconds=1))
    with pytest.raises(VoidWindowClosed):
        assess(charge(), at=timedelta(hours=1) - PSP_TIMEOUT)
    with pytest.raises(VoidWindowClosed) as settled:
        assess(charge(), settled=True)
    assert settled.value.details["settled"] is True


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (TxnState.REVERSED, VoidAction.COMPLETE),
        (TxnState.VERIFIED, VoidAction.REVERSE),
        (TxnState.APPROVED, VoidAction.REVERSE),
        (TxnState.SETTLED, VoidAction.MARK_REFUSED),
        (TxnState.UNKNOWN, VoidAction.RETRY_LATER),
        (TxnState.NOT_FOUND, VoidAction.RETRY_LATER),
        (TxnState.DECLINED, VoidAction.RETRY_LATER),
        (TxnState.PENDING, VoidAction.RETRY_LATER),
    ],
)
def test_recovery_acts_only_on_what_the_psp_holds(state, action):
    assert decide_void(state) is action


def test_a_final_void_never_moves():
    c = charge()
    with pytest.raises(ValueError):
        void_of(c, VoidStatus.REVERSED).moved_to(VoidStatus.REFUSED)
