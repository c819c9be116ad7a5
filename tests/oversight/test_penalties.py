import itertools
import re
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.penalties import PenaltyRules, PenaltyRulesError, penalty_stages
from gateway.core.periods import HalfYear
from gateway.core.text import format_rials
from gateway.oversight.penalty_rules import load_penalty_rules
from gateway.platform.config import Settings

RULES = {
    "sample": True,
    "source": "test series",
    "base_year": 1398,
    "base_cap": 1_000_000_000,
    "first_stage_share": "1/10",
    "index": {
        "1398": "100.0",
        "1399": "136.4",
        "1400": "191.2",
        "1401": "278.8",
        "1402": "392.3",
        "1403": "519.8",
        "1404": "717.3",
    },
}


def rules(**changes) -> PenaltyRules:
    return PenaltyRules.from_document({**RULES, **changes})


def test_the_yearly_cap_is_the_base_cap_indexed_to_inflation():
    series = rules()
    assert series.year_cap(1398).amount == 1_000_000_000
    cap = series.year_cap(1403)
    assert cap.amount == 5_198_000_000
    assert cap.arithmetic == "cap for 1403 = 1,000,000,000 × index 1403 519.8 ÷ index 1398 100.0 = 5,198,000,000 rials"


def test_indexing_is_exact_and_rounds_down_to_whole_rials():
    series = rules(index={"1398": "3", "1399": "10"})
    assert series.year_cap(1399).amount == 3_333_333_333


def test_a_year_the_series_does_not_reach_yet_uses_the_latest_index():
    cap = rules().year_cap(1405)
    assert cap.amount == rules().year_cap(1404).amount == 7_173_000_000
    assert "no index for 1405 yet; the latest, 1404, is used" in cap.arithmetic


def test_a_first_breach_suggests_the_first_stage_share_of_the_cap():
    (stage,) = penalty_stages([HalfYear(1402, 1)], rules())
    assert (stage.stage, stage.minimum, stage.amount, stage.limited_by_cap) == (1, 392_300_000, 392_300_000, False)
    assert stage.arithmetic[1] == "stage 1 (1402-H1): first breach = 1/10 × 3,923,000,000 = 392,300,000 rials"


def test_each_repeat_doubles_the_previous_penalty_until_the_yearly_cap_binds():
    periods = [
        HalfYear(1402, 1),
        HalfYear(1402, 2),
        HalfYear(1403, 1),
        HalfYear(1403, 2),
        HalfYear(1404, 1),
        HalfYear(1404, 2),
    ]
    stages = penalty_stages(list(reversed(periods)), rules())
    assert [s.period for s in stages] == periods
    assert [s.amount for s in stages] == [
        392_300_000,
        784_600_000,
        1_569_200_000,
        3_138_400_000,
        6_276_800_000,
        7_173_000_000 - 6_276_800_000,
    ]
    assert [s.limited_by_cap for s in stages] == [False] * 5 + [True]
    last = stages[-1]
    assert last.minimum == 12_553_600_000 and last.room == 896_200_000
    assert "left under the cap: 7,173,000,000 − 6,276,800,000 = 896,200,000 rials" in " ".join(last.arithmetic)


def test_a_period_named_twice_is_one_stage():
    assert len(penalty_stages([HalfYear(1403, 1), HalfYear(1403, 1)], rules())) == 1


periods = st.lists(st.builds(HalfYear, st.integers(1398, 1408), st.sampled_from([1, 2])), min_size=1, max_size=12)


@given(periods, st.sampled_from(["1/10", "1/3", "1/2", "1/1"]))
def test_suggestions_respect_the_yearly_cap_and_double_unless_it_binds(breached, share):
    series = rules(first_stage_share=share)
    stages = penalty_stages(breached, series)
    by_year = defaultdict(int)
    for previous, stage in itertools.pairwise([None, *stages]):
        assert isinstance(stage.amount, int) and stage.amount >= 0
        by_year[stage.period.year] += stage.amount
        if previous is not None:
            assert stage.amount >= 2 * previous.amount or stage.limited_by_cap
            assert stage.minimum == 2 * previous.amount
    for year, total in by_year.items():
        assert total <= series.year_cap(year).amount


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"index": {"1398": 100.0}}, "strings"),
        ({"index": {"1399": "136.4"}}, "base year 1398 has no value"),
        ({"first_stage_share": "3/2"}, "at most 1"),
        ({"first_stage_share": "0/5"}, "more than 0"),
        ({"base_cap": -1}, "base_cap"),
        ({"index": {"1398": "-1"}}, "index"),
    ],
)
def test_rules_that_would_give_wrong_penalties_are_refused(changes, problem):
    with pytest.raises(PenaltyRulesError, match=problem):
        rules(**changes)


def test_the_shipped_rules_file_loads_and_says_its_index_is_a_sample():
    shipped = load_penalty_rules(Settings().penalty_rules_path)
    assert shipped.sample and "sample" in shipped.source
    assert (shipped.base_year, shipped.base_cap) == (1398, 1_000_000_000)


def test_an_unreadable_rules_file_names_itself(tmp_path: Path):
    broken = tmp_path / "rules.toml"
    broken.write_text("base_year = ", encoding="utf-8")
    with pytest.raises(PenaltyRulesError, match=r"rules\.toml"):
        load_penalty_rules(broken)


def test_every_line_of_the_arithmetic_is_also_written_in_persian():
    rules = PenaltyRules.from_document(RULES)
    stages = penalty_stages([HalfYear(1403, 1), HalfYear(1403, 2), HalfYear(1404, 1)], rules)
    for stage in stages:
        assert len(stage.arithmetic_fa) == len(stage.arithmetic)
        for line in stage.arithmetic_fa:
            assert not re.search("[A-Za-z0-9]", line), line  # Persian words and digits only
    cap_1403 = rules.year_cap(1403).amount
    assert stages[1].arithmetic_fa[1] == (
        f"مرحلهٔ ۲ (نیمهٔ دوم ۱۴۰۳): تکرار، دست‌کم ۲ × {format_rials(cap_1403 // 10)} "
        f"(مرحلهٔ ۱، نیمهٔ نخست ۱۴۰۳) = {format_rials(2 * (cap_1403 // 10))} ریال"
    )
