"""Which store an exception says is unreachable: PostgreSQL or Redis gone (refused, reset, shutting down, timed
out), as opposed to a fault of the gateway itself. An outage is answered 503 with Retry-After, never 500."""

from __future__ import annotations

import traceback

import asyncpg
import redis.exceptions

POSTGRES = "postgres"
REDIS = "redis"

_POSTGRES_GONE = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.exceptions.ConnectionDoesNotExistError,
    # A connection cut in the middle of an operation leaves asyncpg's protocol in a state it reports this way.
    asyncpg.exceptions.InternalClientError,
)
_REDIS_GONE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.BusyLoadingError)
# Socket-level failures carry no name of their store: the frames that raised them tell.
_SOCKET_GONE = (ConnectionError, TimeoutError, OSError)


def unavailable_store(exc: BaseException) -> str | None:
    """POSTGRES or REDIS when `exc` (or what caused it) is that store being unreachable, otherwise None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _REDIS_GONE):
            return REDIS
        if isinstance(current, _POSTGRES_GONE) or (
            isinstance(current, asyncpg.InterfaceError) and "clos" in str(current)  # connection closed, pool closing
        ):
            return POSTGRES
        if isinstance(current, _SOCKET_GONE):
            raised_in = {
                frame.f_globals.get("__name__", "").split(".")[0]
                for frame, _ in traceback.walk_tb(current.__traceback__)
            }
            if "asyncpg" in raised_in:
                return POSTGRES
            if "redis" in raised_in:
                return REDIS
        current = current.__cause__ or current.__context__
    return None
