"""Asking the services together: only the services that apply, a timeout on each, a circuit breaker per service,
and answers cached in Redis for a bounded time under digests that hold neither the birth date nor any identifier,
read in one round trip and written in one."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import redis.asyncio as aioredis

from gateway.core.identity import IdentityPolicy, InquiryService, Verdict
from gateway.core.recipients import RecipientId, RecipientKind
from gateway.identity import CivilRegistryInquiry, IdentityInquiry, ShahkarInquiry
from tests.identity.support import BIRTH_DATE, fresh_subject, known_to_both

OFFICE = "11110001"


@pytest.fixture
async def redis(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def inquiry_for(civil_registry_adapter, shahkar_adapter, redis):
    def build(**options) -> IdentityInquiry:
        settings = {"timeout": 0.5, "cache_ttl_s": 60, "cache_key": b"test key", "breaker_threshold": 3,
                    "breaker_open_s": 60.0} | options  # fmt: skip
        return IdentityInquiry([civil_registry_adapter, shahkar_adapter], redis, **settings)

    return build


async def test_both_services_are_asked_and_both_verdicts_kept(inquiry_for, registry, shahkar):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    check = await inquiry_for().check(IdentityPolicy.REQUIRED, subject, OFFICE)
    assert check.verdict is Verdict.MATCHED and not check.refuses
    assert [r.service for r in check.results] == [InquiryService.CIVIL_REGISTRY, InquiryService.SHAHKAR]
    assert check.receipt_value() == "تأیید با استعلام ثبت احوال و شاهکار"


async def test_a_legal_person_is_asked_of_shahkar_alone(inquiry_for, registry, shahkar):
    subject = dataclasses.replace(
        fresh_subject(birth_date=None), recipient=RecipientId(RecipientKind.LEGAL_PERSON, "10380284790")
    )
    await shahkar.add_line("10380284790", subject.mobile)
    check = await inquiry_for().check(IdentityPolicy.REQUIRED, subject, OFFICE)
    assert [r.service for r in check.results] == [InquiryService.SHAHKAR]
    assert check.verdict is Verdict.MATCHED and check.receipt_value() == "تأیید با استعلام شاهکار"
    assert await registry.calls() == 0


async def test_answers_are_cached_for_a_bounded_time_without_personal_data(inquiry_for, registry, shahkar, redis):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    inquiry = inquiry_for(cache_ttl_s=60)
    earlier = {key async for key in redis.scan_iter(match=f"pishkhan:{{{OFFICE}}}:identity:*")}
    first = await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    again = await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    assert (await registry.calls(), await shahkar.calls()) == (1, 1)
    assert again.results == first.results

    keys = {key async for key in redis.scan_iter(match=f"pishkhan:{{{OFFICE}}}:identity:*")} - earlier
    assert len(keys) == 2  # one answer of each service
    for key in map(bytes.decode, keys):
        stored = (await redis.get(key)).decode()
        for personal in (subject.recipient.identifier, subject.mobile, BIRTH_DATE, "1370", "علی"):
            assert personal not in key and personal not in stored
        assert 0 < await redis.ttl(key) <= 60

    # Another birth date, name or mobile is another question, asked again.
    await inquiry.check(IdentityPolicy.REQUIRED, dataclasses.replace(subject, birth_date="1371/01/15"), OFFICE)
    assert await registry.calls() == 2


async def test_the_cache_is_read_in_one_round_trip_and_written_in_one(
    inquiry_for, registry, shahkar, redis_round_trips
):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    inquiry = inquiry_for()

    redis_round_trips.start()
    await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    asked = redis_round_trips.stop()
    redis_round_trips.start()
    await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    answered_from_cache = redis_round_trips.stop()

    assert asked == [("MGET",), ("SET", "SET")]
    assert answered_from_cache == [("MGET",)]


async def test_only_the_service_whose_answer_is_not_cached_is_asked_and_cached(inquiry_for, registry, shahkar, redis):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    inquiry = inquiry_for()
    first = await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    shahkar_keys = [key async for key in redis.scan_iter(match=f"pishkhan:{{{OFFICE}}}:identity:shahkar:*")]
    await redis.delete(*shahkar_keys)

    again = await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    third = await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)

    assert again.results[0] == first.results[0]  # the civil registry's answer, from the cache
    assert again.results[1].verdict is Verdict.MATCHED and again.results[1].track_id != first.results[1].track_id
    assert third.results == again.results
    assert (await registry.calls(), await shahkar.calls()) == (1, 2)


async def test_another_office_asks_again(inquiry_for, registry, shahkar):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    inquiry = inquiry_for()
    await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    await inquiry.check(IdentityPolicy.REQUIRED, subject, "11110002")
    assert (await registry.calls(), await shahkar.calls()) == (2, 2)


async def test_the_two_services_are_asked_at_the_same_time(civil_registry_url, shahkar_url, redis, registry, shahkar):
    adapters = [CivilRegistryInquiry(civil_registry_url, "pishkhan", "pishkhan", 5.0),
                ShahkarInquiry(shahkar_url, "pishkhan", "pishkhan", 5.0)]  # fmt: skip
    inquiry = IdentityInquiry(adapters, redis, timeout=5.0, cache_ttl_s=0, cache_key=b"test key",
                              breaker_threshold=3, breaker_open_s=60.0)  # fmt: skip
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    await registry.arm(kind="slow_answer", hold_s=0.6, national_code=subject.recipient.identifier)
    await shahkar.arm(kind="slow_answer", hold_s=0.6, mobile=subject.mobile)
    try:
        started = asyncio.get_running_loop().time()
        check = await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
        took = asyncio.get_running_loop().time() - started
    finally:
        await inquiry.close()
    assert check.verdict is Verdict.MATCHED
    assert 0.6 <= took < 1.1  # one after the other would take 1.2 s or more


async def test_no_answer_is_never_cached(inquiry_for, registry, shahkar):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    await registry.arm(kind="http_5xx", national_code=subject.recipient.identifier)
    inquiry = inquiry_for()
    missing = await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)
    assert missing.verdict is Verdict.UNAVAILABLE and missing.refuses
    assert (await inquiry.check(IdentityPolicy.REQUIRED, subject, OFFICE)).verdict is Verdict.MATCHED


def test_the_cache_time_is_bounded(civil_registry_adapter, redis):
    with pytest.raises(ValueError, match="0 to 86400"):
        IdentityInquiry([civil_registry_adapter], redis, timeout=1, cache_ttl_s=86_401, cache_key=b"k",
                        breaker_threshold=1, breaker_open_s=1)  # fmt: skip


async def test_the_breaker_stops_asking_a_failing_service_and_only_that_one(inquiry_for, registry, shahkar):
    inquiry = inquiry_for(breaker_threshold=3, cache_ttl_s=0)
    await registry.arm(kind="http_5xx", count=3)
    for _ in range(3):
        await inquiry.check(IdentityPolicy.ADVISORY, fresh_subject(), OFFICE)
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    check = await inquiry.check(IdentityPolicy.ADVISORY, subject, OFFICE)
    civil, mobile = check.results
    assert (civil.verdict, civil.reason) == (Verdict.UNAVAILABLE, "circuit open")
    assert mobile.verdict is Verdict.MATCHED
    assert await registry.calls() == 3  # the open circuit did not call


async def test_the_breaker_closes_after_its_open_time(inquiry_for, registry, shahkar):
    inquiry = inquiry_for(breaker_threshold=1, breaker_open_s=0.2, cache_ttl_s=0)
    await registry.arm(kind="malformed")
    await inquiry.check(IdentityPolicy.ADVISORY, fresh_subject(), OFFICE)
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    assert (await inquiry.check(IdentityPolicy.ADVISORY, subject, OFFICE)).results[0].reason == "circuit open"
    await asyncio.sleep(0.3)
    assert (await inquiry.check(IdentityPolicy.ADVISORY, subject, OFFICE)).verdict is Verdict.MATCHED


async def test_a_timeout_is_unavailable_within_the_inquiry_timeout(inquiry_for, registry, shahkar):
    subject = fresh_subject()
    await known_to_both(registry, shahkar, subject)
    await shahkar.arm(kind="timeout", hold_s=2, mobile=subject.mobile)
    check = await inquiry_for(timeout=0.2).check(IdentityPolicy.REQUIRED, subject, OFFICE)
    assert check.verdict is Verdict.UNAVAILABLE and check.refuses
    assert check.receipt_value() == "استعلام ثبت احوال: تطابق، شاهکار: بی‌پاسخ؛ تطابق برای این خدمت الزامی نیست"
