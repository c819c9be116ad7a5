"""The refund rules: which charges may be refunded (only where a void may not), the rows a refund takes back, and
the moves of a refund."""

import dataclasses
import uuid
from datetime import timedelta

import pytest

from gateway.core.charge import Charge, Status
from gateway.core.errors import ChargeAlreadyRefunded, ChargeAlreadyVoided, ChargeNotCompleted, VoidWindowOpen
from gateway.core.psp import SettlementRow
from gateway.core.refunds import Refund, RefundStatus, assess_refund, refund_rows
from gateway.core.voids import VoidReason, VoidStatus
from tests.core.support import PSP_TIMEOUT, T0, charge, void_of

CLOSES = T0 + timedelta(hours=1)
AFTER_WINDOW = CLOSES
ROWS = (
    SettlementRow("IR560150679290810033907579", 500_000, "220012345678902"),
    SettlementRow("IR090150161461003307666193", 200_000, "0"),
)


def split(c: Charge) -> Charge:
    return dataclasses.replace(c, settlement_rows=ROWS)


def refund_of(c: Charge, status: RefundStatus = RefundStatus.REQUESTED) -> Refund:
    return Refund(
        id=uuid.uuid4(),
        charge_id=c.id,
        office_id=c.office_id,
        psp_id=c.psp_id,
        terminal_id=c.terminal_id,
        stan="000001",
        amount=c.amount,
        rows=ROWS,
        reason=VoidReason.SERVICE_NOT_DELIVERED,
        reason_text="سامانه ثبت احوال قطع بود",
        requested_by="k",
        created_at=T0,
        status=status,
    )


def assess(c: Charge, *, void=None, existing=None, settled=False, now=AFTER_WINDOW) -> None:
    assess_refund(c, void, existing, settled=settled, now=now, window_closes_at=CLOSES, psp_timeout=PSP_TIMEOUT)


def test_a_completed_charge_past_the_window_may_be_refunded():
    assess(charge())


def test_the_margin_is_the_voids_own_so_every_moment_has_exactly_one_way_back():
    # Just inside the window with less than one PSP timeout left, a void is refused: a refund is the way.
    assess(charge(), now=CLOSES - PSP_TIMEOUT)
    with pytest.raises(VoidWindowOpen) as raised:
        assess(charge(), now=CLOSES - PSP_TIMEOUT - timedelta(microseconds=1))
    assert raised.value.details["next_step"] == "void"


@pytest.mark.parametrize("reason", ["settled", "void refused"])
def test_inside_the_window_a_settled_purchase_or_a_refused_void_is_refunded(reason):
    c = charge()
    if reason == "settled":
        assess(c, settled=True, now=T0)
    else:
        assess(c, void=void_of(c, VoidStatus.REFUSED), now=T0)


@pytest.mark.parametrize("status", [VoidStatus.REVERSED, VoidStatus.REQUESTED, VoidStatus.SENT])
def test_a_charge_whose_void_returned_or_may_return_the_money_is_never_refunded(status):
    c = charge()
    with pytest.raises(ChargeAlreadyVoided):
        assess(c, void=void_of(c, status))


@pytest.mark.parametrize("status", list(RefundStatus))
def test_a_charge_is_refunded_once_whatever_became_of_the_first_refund(status):
    c = charge()
    with pytest.raises(ChargeAlreadyRefunded) as raised:
        assess(c, existing=refund_of(c, status))
    assert raised.value.details["status"] == status.value


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.COMPLETED])
def test_only_a_completed_charge_is_refunded(status):
    with pytest.raises(ChargeNotCompleted):
        assess(charge(status))


def test_a_refund_takes_back_every_split_row_whole_summing_to_the_amount():
    rows = refund_rows(split(charge()))
    assert rows == ROWS
    assert sum(row.amount for row in rows) == 700_000


@pytest.mark.parametrize("rows", [(), ROWS[:1]])
def test_a_charge_whose_rows_do_not_make_its_amount_cannot_be_refunded(rows):
    with pytest.raises(ValueError, match="do not add up"):
        refund_rows(dataclasses.replace(charge(), settlement_rows=rows))


def test_only_a_pending_refund_moves():
    c = charge()
    moved = refund_of(c).moved_to(RefundStatus.INSTRUCTED, rrn="632713000001")
    assert moved.status is RefundStatus.INSTRUCTED and moved.rrn == "632713000001" and not moved.pending
    with pytest.raises(ValueError):
        moved.moved_to(RefundStatus.FAILED)
