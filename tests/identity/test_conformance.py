"""What every identity inquiry adapter does, against its simulator: a known subject is matched with the provider's
track id, an unknown one is mismatched with it, and every fault (slow beyond the timeout, a held request, 5xx, a
malformed answer, 429) is `unavailable` within the timeout, never an exception and never a verdict.
Adding an adapter is one more case in `_CASES`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from gateway.core.identity import InquiryService, Verdict
from gateway.identity import IdentityAdapter, Subject
from tests.identity.conftest import ADAPTER_TIMEOUT_S
from tests.identity.support import InquiryControl, fresh_subject


@dataclass
class Case:
    adapter: IdentityAdapter
    control: InquiryControl
    service: InquiryService

    async def know(self, subject: Subject) -> None:
        if self.service is InquiryService.CIVIL_REGISTRY:
            await self.control.add_person(subject.recipient.identifier)
        else:
            await self.control.add_line(subject.recipient.identifier, subject.mobile)

    def target(self, subject: Subject) -> dict:
        if self.service is InquiryService.CIVIL_REGISTRY:
            return {"national_code": subject.recipient.identifier}
        return {"mobile": subject.mobile}


_CASES = {
    "civil_registry": ("civil_registry_adapter", "registry", InquiryService.CIVIL_REGISTRY),
    "shahkar": ("shahkar_adapter", "shahkar", InquiryService.SHAHKAR),
}


@pytest.fixture(params=sorted(_CASES))
def case(request) -> Case:
    adapter, control, service = _CASES[request.param]
    return Case(request.getfixturevalue(adapter), request.getfixturevalue(control), service)


async def test_a_known_subject_is_matched_with_the_providers_track_id(case):
    subject = fresh_subject()
    await case.know(subject)
    result = await case.adapter.inquire(subject)
    assert (result.service, result.verdict, result.reason) == (case.service, Verdict.MATCHED, None)
    assert result.track_id


async def test_an_unknown_subject_is_mismatched_with_the_providers_track_id(case):
    result = await case.adapter.inquire(fresh_subject())
    assert result.verdict is Verdict.MISMATCHED and result.track_id and result.reason


async def test_a_slow_answer_within_the_timeout_still_counts(case):
    subject = fresh_subject()
    await case.know(subject)
    await case.control.arm(kind="slow_answer", hold_s=ADAPTER_TIMEOUT_S / 5, **case.target(subject))
    assert (await case.adapter.inquire(subject)).verdict is Verdict.MATCHED


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "slow_answer", "hold_s": ADAPTER_TIMEOUT_S * 3},
        {"kind": "timeout", "hold_s": ADAPTER_TIMEOUT_S * 3},
        {"kind": "http_5xx", "status": 503},
        {"kind": "http_5xx", "status": 500},
        {"kind": "malformed"},
        {"kind": "throttle", "retry_after": 1},
    ],
    ids=lambda fault: f"{fault['kind']}-{fault.get('status', '')}",
)
async def test_every_fault_is_unavailable_within_the_timeout(case, fault):
    subject = fresh_subject()
    await case.know(subject)
    await case.control.arm(**fault, **case.target(subject))
    started = time.monotonic()
    result = await case.adapter.inquire(subject)
    assert time.monotonic() - started < ADAPTER_TIMEOUT_S * 2
    assert result.verdict is Verdict.UNAVAILABLE and result.reason
    # The fault was used up: the next call is answered.
    assert (await case.adapter.inquire(subject)).verdict is Verdict.MATCHED


async def test_an_unreachable_provider_is_unavailable(case):
    adapter = type(case.adapter)("http://127.0.0.1:9", "pishkhan", "pishkhan", ADAPTER_TIMEOUT_S)
    try:
        assert (await adapter.inquire(fresh_subject())).verdict is Verdict.UNAVAILABLE
    finally:
        await adapter.close()
