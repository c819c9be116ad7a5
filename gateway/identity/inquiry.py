"""Asks every inquiry service that applies, at once, within a timeout, behind a circuit breaker per service, with
recent answers cached in Redis; and turns the answers into the charge's `IdentityCheck`.

The cache keeps a service's verdict, track id and reason for `ttl` seconds under a keyed digest (HMAC-SHA256) of the
question, so neither the birth date, nor the name, nor the identifiers are in Redis, and a digest cannot be turned
back into them by trying every birth date without the key. Only answers are cached, never the lack of one. A Redis
fault only costs the cache. One round trip reads every service's cached answer (MGET), one writes the fresh
answers (a pipeline): the keys carry the office's hash tag, like every office key, so they meet in one Redis
Cluster slot; the cache serves an office that retries a declined card, so it is kept per office.

A service that failed `breaker_threshold` times in a row is not asked for `breaker_open_s` seconds (its verdict is
`unavailable: circuit open` at once), then asked again once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import orjson
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from gateway.core.clock import Clock, system_clock
from gateway.core.identity import IdentityCheck, IdentityPolicy, InquiryResult, Verdict
from gateway.identity.base import IdentityAdapter, Subject

log = logging.getLogger(__name__)

MAX_CACHE_TTL_S = 86_400


class _NoAnswer(Exception):
    def __init__(self, result: InquiryResult) -> None:
        super().__init__(result.reason)
        self.result = result


class IdentityInquiry:
    def __init__(
        self,
        adapters: list[IdentityAdapter],
        redis,
        *,
        timeout: float,
        cache_ttl_s: int,
        cache_key: bytes,
        breaker_threshold: int,
        breaker_open_s: float,
        clock: Clock = system_clock,
    ) -> None:
        if not 0 <= cache_ttl_s <= MAX_CACHE_TTL_S:
            raise ValueError(f"the identity cache keeps answers for 0 to {MAX_CACHE_TTL_S} seconds")
        self.adapters = adapters
        self.redis = redis
        self.timeout = timeout
        self.cache_ttl_s = cache_ttl_s
        self._cache_key = cache_key
        self._breakers = AsyncCircuitBreakerFactory(default_threshold=breaker_threshold, default_ttl=breaker_open_s)
        self.clock = clock

    async def check(self, policy: IdentityPolicy, subject: Subject, office_id: str) -> IdentityCheck:
        """The verdict of every service that applies to the subject, asked for an office; call it only for a policy
        other than off."""
        applicable = [adapter for adapter in self.adapters if adapter.applies_to(subject)]
        keys = [self._redis_key(office_id, adapter, subject) for adapter in applicable]
        cached = await self._cached(keys)
        unanswered = [i for i, answer in enumerate(cached) if answer is None]
        fresh = dict(
            zip(unanswered, await asyncio.gather(*(self._ask(applicable[i], subject) for i in unanswered)), strict=True)
        )
        await self._remember(
            {keys[i]: answer for i, answer in fresh.items() if answer.verdict is not Verdict.UNAVAILABLE}
        )
        results = tuple(answer if answer is not None else fresh[i] for i, answer in enumerate(cached))
        return IdentityCheck(policy, results, self.clock())

    async def _ask(self, adapter: IdentityAdapter, subject: Subject) -> InquiryResult:
        try:
            async with await self._breakers.get_breaker(adapter.service.value):
                try:
                    result = await asyncio.wait_for(adapter.inquire(subject), self.timeout)
                except TimeoutError:
                    raise _NoAnswer(adapter.unavailable(f"no answer within {self.timeout}s")) from None
                if result.verdict is Verdict.UNAVAILABLE:
                    raise _NoAnswer(result)
        except OpenedState:
            return adapter.unavailable("circuit open")
        except _NoAnswer as missing:
            log.warning("identity inquiry %s unanswered: %s", adapter.service, missing.result.reason)
            return missing.result
        return result

    def _redis_key(self, office_id: str, adapter: IdentityAdapter, subject: Subject) -> str:
        question = "\x1f".join((adapter.service.value, *adapter.question(subject))).encode()
        digest = hmac.new(self._cache_key, question, hashlib.sha256).hexdigest()
        return f"pishkhan:{{{office_id}}}:identity:{adapter.service.value}:{digest}"

    async def _cached(self, keys: list[str]) -> list[InquiryResult | None]:
        """Each key's cached answer, or None (no answer cached, or no cache)."""
        if self.cache_ttl_s == 0 or not keys:
            return [None] * len(keys)
        try:
            raws = await self.redis.mget(keys)
        except Exception:  # a cache that cannot answer is a cache miss
            log.warning("identity cache read failed", exc_info=True)
            return [None] * len(keys)
        return [InquiryResult.from_document(orjson.loads(raw)) if raw else None for raw in raws]

    async def _remember(self, answers: dict[str, InquiryResult]) -> None:
        if self.cache_ttl_s == 0 or not answers:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, result in answers.items():
                    pipe.set(key, orjson.dumps(result.to_document()), ex=self.cache_ttl_s)
                await pipe.execute()
        except Exception:
            log.warning("identity cache write failed", exc_info=True)

    async def close(self) -> None:
        for adapter in self.adapters:
            await adapter.close()
