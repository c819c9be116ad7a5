"""The receipt's authentication line for each verdict, in the regulation's words: how the recipient was
authenticated, or each service's answer and that a match is not required when an advisory policy let the charge
through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core.identity import (
    IdentityCheck,
    IdentityPolicy,
    InquiryResult,
    InquiryService,
    Verdict,
)

CIVIL, SHAHKAR = InquiryService.CIVIL_REGISTRY, InquiryService.SHAHKAR
MATCHED, MISMATCHED, UNAVAILABLE = Verdict.MATCHED, Verdict.MISMATCHED, Verdict.UNAVAILABLE


def _check(policy: IdentityPolicy, *results: tuple[InquiryService, Verdict]) -> IdentityCheck:
    answers = tuple(InquiryResult(service, verdict, "track") for service, verdict in results)
    return IdentityCheck(policy, answers, datetime(2026, 12, 6, tzinfo=UTC))


@pytest.mark.parametrize("policy", [IdentityPolicy.REQUIRED, IdentityPolicy.ADVISORY])
def test_a_match_names_the_services_that_confirmed_the_recipient(policy: IdentityPolicy) -> None:
    assert _check(policy, (CIVIL, MATCHED), (SHAHKAR, MATCHED)).receipt_value() == (
        "تأیید با استعلام ثبت احوال و شاهکار"
    )
    assert _check(policy, (SHAHKAR, MATCHED)).receipt_value() == "تأیید با استعلام شاهکار"


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        (
            ((CIVIL, MISMATCHED), (SHAHKAR, MATCHED)),
            "استعلام ثبت احوال: مغایرت، شاهکار: تطابق؛ تطابق برای این خدمت الزامی نیست",
        ),
        (
            ((CIVIL, MATCHED), (SHAHKAR, UNAVAILABLE)),
            "استعلام ثبت احوال: تطابق، شاهکار: بی‌پاسخ؛ تطابق برای این خدمت الزامی نیست",
        ),
        (((SHAHKAR, MISMATCHED),), "استعلام شاهکار: مغایرت؛ تطابق برای این خدمت الزامی نیست"),
    ],
)
def test_an_advisory_charge_without_a_match_says_each_answer_and_that_no_match_was_required(
    results: tuple[tuple[InquiryService, Verdict], ...], expected: str
) -> None:
    check = _check(IdentityPolicy.ADVISORY, *results)
    assert not check.refuses
    assert check.receipt_value() == expected
