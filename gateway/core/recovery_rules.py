"""What the recovery worker does with a pending charge, given what the PSP says it holds. Pure.

Only an explicit PSP answer finalises a charge. Silence is retried with backoff; once the PSP's verify deadline is
near and the outcome is still unknown, the charge is reversed, because an approval that cannot be verified in time
would be reversed by the PSP anyway and must not be left half-done.

Two answers are only trusted once the hot path's lease on the charge has ended (`hot_path_done_at`): "not found",
because a purchase still on its way could reach the PSP after the inquiry; and "pending at the terminal", because
until then the cardholder may still be entering the PIN for the request the hot path is waiting on. After it, a
purchase still pending is an abandoned push and is cancelled by a reversal.
"""

from __future__ import annotations

import enum
import random
from datetime import datetime, timedelta

from gateway.core.psp import TxnState

DEADLINE_MARGIN = timedelta(seconds=60)
MAX_BACKOFF = timedelta(seconds=60)


class Action(enum.StrEnum):
    VERIFY_AND_COMPLETE = "verify_and_complete"
    COMPLETE = "complete"  # the PSP already holds it verified or settled
    MARK_DECLINED = "mark_declined"
    MARK_REVERSED = "mark_reversed"
    MARK_EXPIRED = "mark_expired"  # the PSP never received it
    REVERSE = "reverse"
    RETRY_LATER = "retry_later"


def decide(state: TxnState, now: datetime, verify_deadline: datetime, hot_path_done_at: datetime) -> Action:
    near_deadline = now >= verify_deadline - DEADLINE_MARGIN
    hot_path_done = now >= hot_path_done_at
    if state is TxnState.APPROVED:
        return Action.REVERSE if near_deadline else Action.VERIFY_AND_COMPLETE
    if state in (TxnState.VERIFIED, TxnState.SETTLED):
        return Action.COMPLETE
    if state is TxnState.DECLINED:
        return Action.MARK_DECLINED
    if state is TxnState.REVERSED:
        return Action.MARK_REVERSED
    if state is TxnState.NOT_FOUND:
        return Action.MARK_EXPIRED if hot_path_done else Action.RETRY_LATER
    if state is TxnState.PENDING:
        return Action.REVERSE if hot_path_done else Action.RETRY_LATER
    if near_deadline:  # the inquiry itself went unanswered
        return Action.REVERSE
    return Action.RETRY_LATER


def backoff(attempts: int, base: timedelta = timedelta(seconds=1)) -> timedelta:
    """Exponential, capped, with jitter (half to all of the step) so that workers do not retry in step."""
    ceiling = min(base * (2 ** min(attempts, 16)), MAX_BACKOFF)
    jittered: timedelta = ceiling * random.uniform(0.5, 1.0)
    return jittered
