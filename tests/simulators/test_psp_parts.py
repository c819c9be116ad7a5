"""The simulator's cardholder deck, script parsing and fault plan, and the adapter registry."""

from __future__ import annotations

import pytest
from stdnum import luhn

from psp_adapters.iso8583_tcp import Iso8583TcpAdapter
from psp_adapters.pcpos_http import PcPosHttpAdapter
from psp_adapters.registry import create_adapter
from simulators.psp.cards import NO_ANSWER, TEST_CARDS, Deck, parse_answer
from simulators.psp.faults import DELIVERY_KINDS, FaultKind, FaultPlan, Operation
from tests.simulators.psp_support import CAPABILITIES


@pytest.mark.parametrize(
    ("outcome", "answer"),
    [("approve", "00"), ("decline:51", "51"), ("decline:05", "05"), ("cancel", "99"), ("no_answer", NO_ANSWER)],
)
def test_scripted_outcomes(outcome, answer):
    assert parse_answer(outcome) == answer


@pytest.mark.parametrize("outcome", ["decline:00", "decline:5", "decline", "approved", ""])
def test_unknown_outcomes_are_refused(outcome):
    with pytest.raises(ValueError):
        parse_answer(outcome)


def test_deck_cards_are_valid_card_numbers():
    assert all(luhn.is_valid(card.pan) and len(card.pan) == 16 for card in TEST_CARDS)


def test_deck_deals_approving_cards_in_turn_and_a_card_for_each_scripted_answer():
    deck = Deck()

    dealt = [deck.deal() for _ in range(6)]

    assert {card.answer for card in dealt} == {"00"}
    assert len({card.pan for card in dealt}) == 3 and dealt[:3] == dealt[3:]
    assert deck.card_for("51").pan.startswith("589210")
    assert deck.card_for("91").answer == "91"
    assert deck.card_for(NO_ANSWER).answer is NO_ANSWER


def test_a_fault_matches_its_terminal_and_operation_and_runs_out():
    plan = FaultPlan()
    plan.add("drop_reply", terminal_id="10000001", operation="purchase", count=2)

    assert plan.take("10000002", Operation.PURCHASE, DELIVERY_KINDS) is None
    assert plan.take("10000001", Operation.VERIFY, DELIVERY_KINDS) is None
    assert [plan.take("10000001", Operation.PURCHASE, DELIVERY_KINDS).kind for _ in range(2)] == [
        FaultKind.DROP_REPLY
    ] * 2
    assert plan.take("10000001", Operation.PURCHASE, DELIVERY_KINDS) is None and plan.pending() == []


def test_a_fault_is_taken_only_where_its_kind_is_asked_for():
    plan = FaultPlan()
    plan.add("terminal_unreachable", terminal_id="10000001")

    assert plan.take("10000001", Operation.PURCHASE, DELIVERY_KINDS) is None
    assert plan.take("10000001", Operation.PURCHASE, {FaultKind.TERMINAL_UNREACHABLE}) is not None


def test_a_fault_for_any_terminal_and_bad_faults():
    plan = FaultPlan()
    plan.add("slow_reply", delay_ms=50)

    assert plan.take("12345678", Operation.INQUIRY, DELIVERY_KINDS).delay_ms == 50
    for bad in (
        {"kind": "melt_down"},
        {"kind": "slow_reply", "count": 0},
        {"kind": "slow_reply", "delay_ms": -1},
        {"kind": "drop_reply", "operation": "0200"},
    ):
        with pytest.raises(ValueError):
            plan.add(**bad)


def test_registry_builds_the_adapter_for_a_protocol():
    adapter = create_adapter("psp-mellat", "iso8583-tcp", {"host": "127.0.0.1", "port": 1}, CAPABILITIES, 5.0)
    cloud = create_adapter(
        "psp-saman",
        "pcpos-http",
        {"host": "127.0.0.1", "port": 1, "client_id": "gw", "client_secret": "s"},
        CAPABILITIES,
        5.0,
    )

    assert isinstance(adapter, Iso8583TcpAdapter) and adapter.purchase_timeout == 90.0
    assert isinstance(cloud, PcPosHttpAdapter) and cloud.protocol == "pcpos-http"
    with pytest.raises(ValueError, match="unknown PSP protocol"):
        create_adapter("psp-x", "carrier-pigeon", {}, CAPABILITIES, 5.0)
