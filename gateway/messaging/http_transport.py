"""One pooled aiohttp session per messaging adapter, with a timeout on every call.

The client turns "no usable answer" (timeout, refused or dropped connection) into `TransportFault`
and hands back every HTTP answer, whatever its status, for the adapter to interpret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
import orjson

from gateway.core.clock import system_clock

T = TypeVar("T")
R = TypeVar("R")


class TransportFault(Exception):
    """The provider gave no usable HTTP answer."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any  # the decoded JSON body, or None when the body is not JSON
    retry_after: float | None  # seconds from a Retry-After header


class JsonHttpClient:
    def __init__(self, base_url: str, timeout: float, *, headers: Mapping[str, str] | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._session: aiohttp.ClientSession | None = None

    def _shared_session(self) -> aiohttp.ClientSession:
        # Created on first use so that it belongs to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        body = orjson.dumps(json) if json is not None else None
        headers = {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
        try:
            async with self._shared_session().request(
                method,
                self._base_url + path,
                data=body if body is not None else data,
                params=params,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                return HttpAnswer(response.status, _json_or_none(raw), _retry_after(response.headers))
        # The path stays out of the message: it can carry an API key or an inbox address.
        except TimeoutError as error:
            raise TransportFault(f"no answer within {self._timeout.total}s") from error
        except (aiohttp.ClientError, OSError) as error:
            raise TransportFault(f"{type(error).__name__}: {error}") from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def in_calls(items: list[T], per_call: int, call: Callable[[list[T]], Awaitable[list[R]]]) -> list[R]:
    """`call` on consecutive runs of at most `per_call` items, concurrently; its results, one per item, in order."""
    runs = [items[start : start + per_call] for start in range(0, len(items), per_call)]
    answers = await asyncio.gather(*(call(run) for run in runs))
    return [result for answer in answers for result in answer]


def json_objects(value: Any) -> list[dict]:
    """The JSON objects in a list taken from an answer; anything else in it (or no list at all) is ignored."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _json_or_none(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - system_clock()).total_seconds())
