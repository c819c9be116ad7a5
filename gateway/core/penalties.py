"""Penalty suggestions for a breached obligation of an office licence holder, with their arithmetic.

The rule (003): "سقف جریمه تخطی از هر یک از تعهدات دارنده پروانه دفتر پیشخوان خدمات برای هر سال، مبلغ یک میلیارد
ریال تعیین شده که مطابق با نرخ رسمی تورم افزایش خواهد یافت و در صورت تکرار هر یک از تخلفات، میزان حداقل جریمه
متعلقه، دو برابر جریمه وقوع تخلف در مرحله قبل است."

How it is applied here:
- a *stage* is one six-month period in which the office breached the obligation (the regulator ranks offices every
  six months); the first stage is the first such period on record, each later one is a repeat;
- the yearly cap is the base cap times index[year] / index[base year] from the configured index series;
- stage 1 suggests `first_stage_share` of its year's cap; each repeat at least doubles the previous stage's penalty;
- the penalties of one obligation within one Jalali year never add up to more than that year's cap, so a doubled
  minimum that does not fit is cut to what is left and flagged `limited_by_cap` (the regulator decides what follows).
Amounts are whole rials, rounded down. Every line of the arithmetic is written twice: in English for the API
(`arithmetic`) and in Persian, with Persian digits, for the pages (`arithmetic_fa`). Pure: the rules document is
passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from gateway.core.periods import HalfYear
from gateway.core.text import format_rials, to_persian_digits

RULE_FA = (
    "سقف جریمه تخطی از هر یک از تعهدات دارنده پروانه دفتر پیشخوان خدمات برای هر سال، مبلغ یک میلیارد ریال "
    "تعیین شده که مطابق با نرخ رسمی تورم افزایش خواهد یافت و در صورت تکرار هر یک از تخلفات، میزان حداقل "
    "جریمه متعلقه، دو برابر جریمه وقوع تخلف در مرحله قبل است."
)
REPEAT_FACTOR = 2


class PenaltyRulesError(ValueError):
    """A penalty rules document that must not be used."""


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('write index values as strings ("136.4") or integers, so that they stay exact')
    return value


IndexValue = Annotated[Decimal, BeforeValidator(_no_float), Field(gt=0, allow_inf_nan=False)]
YearKey = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
ShareText = Annotated[str, StringConstraints(pattern=r"^[0-9]+/[1-9][0-9]*$")]


class _RulesDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sample: bool = Field(strict=True, description="true while the index values are demonstration figures")
    source: str = Field(min_length=1, description="where the index values come from")
    base_year: int = Field(strict=True, ge=1300, le=1500, description="Jalali year in which base_cap was set")
    base_cap: int = Field(strict=True, gt=0, description="rials per obligation per year, in base_year")
    first_stage_share: ShareText = Field(description="share of the year's cap suggested at the first stage")
    index: dict[YearKey, IndexValue] = Field(min_length=1, description="yearly price index by Jalali year")


def _rials(amount: int) -> str:
    return f"{amount:,}"


def _fa(value: object) -> str:
    return to_persian_digits(str(value))


def _period_fa(period: HalfYear) -> str:
    return f"{'نیمهٔ نخست' if period.half == 1 else 'نیمهٔ دوم'} {_fa(period.year)}"


@dataclass(frozen=True)
class YearCap:
    year: int
    amount: int
    arithmetic: str
    arithmetic_fa: str


@dataclass(frozen=True)
class PenaltyRules:
    base_year: int
    base_cap: int
    first_stage_share: Fraction
    index: dict[int, Decimal]
    sample: bool
    source: str

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PenaltyRules:
        try:
            doc = _RulesDocument.model_validate(document)
        except ValidationError as error:
            raise PenaltyRulesError(
                "; ".join(f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in error.errors())
            ) from None
        index = {int(year): value for year, value in doc.index.items()}
        if doc.base_year not in index:
            raise PenaltyRulesError(f"index: the base year {doc.base_year} has no value")
        share = Fraction(doc.first_stage_share)
        if not 0 < share <= 1:
            raise PenaltyRulesError("first_stage_share must be more than 0 and at most 1")
        return cls(doc.base_year, doc.base_cap, share, dict(sorted(index.items())), doc.sample, doc.source)

    def year_cap(self, year: int) -> YearCap:
        """The cap per obligation for the Jalali `year`, indexed to inflation."""
        base_index = self.index[self.base_year]
        if year <= self.base_year:
            return YearCap(
                year,
                self.base_cap,
                f"cap for {year} = base cap set in {self.base_year} = {_rials(self.base_cap)} rials",
                f"سقف سال {_fa(year)} = سقف پایهٔ مصوب سال {_fa(self.base_year)} = {format_rials(self.base_cap)} ریال",
            )
        known = [y for y in self.index if y <= year]
        used = known[-1]
        ratio = Fraction(self.index[used]) / Fraction(base_index)
        amount = math.floor(self.base_cap * ratio)
        note = "" if used == year else f" (no index for {year} yet; the latest, {used}, is used)"
        note_fa = (
            "" if used == year else f" (شاخص سال {_fa(year)} هنوز نیامده؛ آخرین شاخص، سال {_fa(used)}، به کار رفت)"
        )
        return YearCap(
            year,
            amount,
            f"cap for {year} = {_rials(self.base_cap)} × index {used} "
            f"{self.index[used]} ÷ index {self.base_year} {base_index} = "
            f"{_rials(amount)} rials{note}",
            f"سقف سال {_fa(year)} = {format_rials(self.base_cap)} × شاخص سال {_fa(used)} ({_fa(self.index[used])}) "
            f"÷ شاخص سال {_fa(self.base_year)} ({_fa(base_index)}) = {format_rials(amount)} ریال{note_fa}",
        )


@dataclass(frozen=True)
class StagePenalty:
    period: HalfYear
    stage: int
    year_cap: YearCap
    minimum: int  # the first-stage share, or twice the previous stage's penalty
    room: int  # what the obligation's penalties of this year leave under the cap
    amount: int  # the suggestion
    arithmetic: tuple[str, ...]
    arithmetic_fa: tuple[str, ...]  # the same lines in Persian

    @property
    def limited_by_cap(self) -> bool:
        return self.minimum > self.room

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "stage": self.stage,
            "year_cap": self.year_cap.amount,
            "minimum": self.minimum,
            "room_under_cap": self.room,
            "suggested": self.amount,
            "limited_by_cap": self.limited_by_cap,
            "arithmetic": list(self.arithmetic),
            "arithmetic_fa": list(self.arithmetic_fa),
        }


def penalty_stages(periods: Sequence[HalfYear], rules: PenaltyRules) -> list[StagePenalty]:
    """The suggested penalty at every stage: `periods` are the distinct six-month periods, in any order, in which
    the office breached one obligation."""
    stages: list[StagePenalty] = []
    for number, period in enumerate(sorted(set(periods)), start=1):
        cap = rules.year_cap(period.year)
        lines = [cap.arithmetic]
        lines_fa = [cap.arithmetic_fa]
        if number == 1:
            minimum = math.floor(cap.amount * rules.first_stage_share)
            lines.append(
                f"stage 1 ({period.label}): first breach = {rules.first_stage_share} × "
                f"{_rials(cap.amount)} = {_rials(minimum)} rials"
            )
            lines_fa.append(
                f"مرحلهٔ ۱ ({_period_fa(period)}): نخستین تخلف = {_fa(rules.first_stage_share)} × "
                f"{format_rials(cap.amount)} = {format_rials(minimum)} ریال"
            )
        else:
            previous = stages[-1]
            minimum = REPEAT_FACTOR * previous.amount
            lines.append(
                f"stage {number} ({period.label}): repeat, at least {REPEAT_FACTOR} × "
                f"{_rials(previous.amount)} (stage {previous.stage}, {previous.period.label}) = "
                f"{_rials(minimum)} rials"
            )
            lines_fa.append(
                f"مرحلهٔ {_fa(number)} ({_period_fa(period)}): تکرار، دست‌کم {_fa(REPEAT_FACTOR)} × "
                f"{format_rials(previous.amount)} (مرحلهٔ {_fa(previous.stage)}، {_period_fa(previous.period)}) = "
                f"{format_rials(minimum)} ریال"
            )
        same_year = [s for s in stages if s.period.year == period.year]
        spent = sum(s.amount for s in same_year)
        room = cap.amount - spent
        if same_year:
            lines.append(
                f"already suggested in {period.year}: {' + '.join(_rials(s.amount) for s in same_year)}"
                f" = {_rials(spent)}; left under the cap: {_rials(cap.amount)} − {_rials(spent)} = "
                f"{_rials(room)} rials"
            )
            lines_fa.append(
                f"پیشنهادشده در سال {_fa(period.year)}: {' + '.join(format_rials(s.amount) for s in same_year)}"
                f" = {format_rials(spent)}؛ باقی‌مانده تا سقف: {format_rials(cap.amount)} − {format_rials(spent)} = "
                f"{format_rials(room)} ریال"
            )
        amount = min(minimum, room)
        if minimum > room:
            lines.append(
                f"suggested = {_rials(room)} rials: the doubled minimum {_rials(minimum)} is above what "
                f"the yearly cap allows"
            )
            lines_fa.append(
                f"پیشنهاد = {format_rials(room)} ریال: حداقل دوبرابرشده، {format_rials(minimum)} ریال، "
                f"از آنچه سقف سالانه اجازه می‌دهد بیشتر است"
            )
        else:
            lines.append(f"suggested = {_rials(amount)} rials")
            lines_fa.append(f"پیشنهاد = {format_rials(amount)} ریال")
        stages.append(StagePenalty(period, number, cap, minimum, room, amount, tuple(lines), tuple(lines_fa)))
    return stages
