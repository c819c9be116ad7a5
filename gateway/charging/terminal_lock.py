"""One card at a time per physical terminal: a Redis lock held from the push to the terminal until the charge is
final (completed, declined, reversed, expired...). A charge left pending by its request keeps the terminal; the
recovery worker lets it go when it resolves the charge. Keys are hash-tagged by office so they stay on one Redis
Cluster slot per office.

The lock's value is `<charge id>:<Idempotency-Key>`: the charge the terminal is held for (so a refused caller is
told which one), and the request holding it (so a duplicate of that request can tell "my own first attempt is on
this terminal" from "another card is").

Taking the terminal can also spend the charge request's rate-limit count and, when it is signed, its nonce
(gateway/access/rate_counts.py) in the same script: one Redis round trip for all three. A request over its limit,
or whose nonce was spent before, does not take the terminal.

Letting a terminal go is not a round trip of its own under load: the release waits up to `RELEASE_DELAY_S` for the
process's next script here (most often the next charge's taking of a terminal) and goes in the same write, ahead of
it. Redis runs them in that order, so a charge of the same terminal in this process always finds it free. With no
script by then the release goes alone. A charge of that terminal reaching another process meanwhile finds it held for
a charge that is final, and takes it over (gateway/charging/service.py)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from redis.exceptions import NoScriptError

from gateway.access.rate_counts import SPEND_LUA, WINDOW_S, PendingCount

# KEYS[1] the terminal, then the nonce (if ARGV[4] is not 0) and the rate counters; ARGV: token, hold ms, window ms,
# nonce lifetime ms, then each counter's allowance.
_ACQUIRE = (
    SPEND_LUA % {"first": 2, "window_arg": 3, "nonce_arg": 4}
    + """
for i, count in ipairs(counts) do
  if count > tonumber(ARGV[4 + i]) then return {0, '', counts} end
end
local held = redis.call('get', KEYS[1])
if held then return {0, held, counts} end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1], counts}
"""
)

# Replaces exactly the token the caller saw, so two callers that both found the same stale holder cannot both win;
# takes a terminal its stale holder let go of meanwhile, as its late release does.
_TAKE_OVER = """
local held = redis.call('get', KEYS[1])
if held == ARGV[1] or not held then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""

# A GET, as a script: so that it goes through the same path as the others, behind the releases waiting.
_HOLDER = "return redis.call('get', KEYS[1])"

_RELEASE_CHARGE = """
local held = redis.call('get', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


log = logging.getLogger(__name__)

# How long a release waits for the process's next script on the terminal locks, to go in the same write. At the
# benchmark's peak a serving process takes a terminal every 4 ms or so; a cashier's next card comes seconds later.
RELEASE_DELAY_S = 0.01


def lock_token(charge_id: uuid.UUID, idempotency_key: str) -> str:
    return f"{charge_id}:{idempotency_key}"


@dataclass(frozen=True)
class LockAttempt:
    taken: bool
    token: str

    @property
    def holder(self) -> str:
        """The Idempotency-Key of the request whose token this is."""
        return self.token.partition(":")[2]

    @property
    def charge_id(self) -> uuid.UUID | None:
        """The charge the terminal is held for (None for a token of another form)."""
        try:
            return uuid.UUID(self.token.partition(":")[0])
        except ValueError:
            return None


class TerminalLocks:
    def __init__(self, redis, hold_seconds: float, pending_hold_seconds: float) -> None:
        """`hold_seconds` bounds a request's own hold (its push and verify); `pending_hold_seconds` bounds the hold
        of a charge its request left pending, as a guard only: recovery or a stale takeover frees it first."""
        self.redis = redis
        self.hold_ms = int(hold_seconds * 1000)
        self.pending_hold_ms = int(pending_hold_seconds * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._take_over = redis.register_script(_TAKE_OVER)
        self._extend = redis.register_script(_EXTEND)
        self._release_charge = redis.register_script(_RELEASE_CHARGE)
        self._holder = redis.register_script(_HOLDER)
        self._releases: list[tuple[str, str]] = []  # (key, token) let go and not yet sent
        self._release_timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task] = set()  # releases sent alone, not yet answered

    @staticmethod
    def _key(office_id: str, terminal_id: str) -> str:
        return f"pishkhan:{{{office_id}}}:terminal:{terminal_id}:busy"

    async def acquire(
        self, office_id: str, terminal_id: str, token: str, count: PendingCount | None = None
    ) -> LockAttempt:
        """Takes the terminal with `token`; when it is taken already, the attempt is not taken and carries the
        holder's token. Spends `count` first, in the same round trip when its keys are on the terminal's Redis
        Cluster slot; raises 401 for a nonce spent before, 429 when a limit is spent (the terminal untaken)."""
        folded = count if count is not None and not count.spent and count.hash_tag == office_id else None
        if count is not None and folded is None:
            await count.spend()
        keys, args = [self._key(office_id, terminal_id)], [token, self.hold_ms, WINDOW_S * 1000]
        if folded is not None:
            keys += folded.keys
            args += [folded.nonce_lifetime_ms, *(counter.allowed for counter in folded.counters)]
        else:
            args.append(0)
        answer = await self._run(self._acquire, keys, args)
        if folded is not None:
            folded.spent_in_script(None if answer is None else answer[2])
        taken, held, _ = answer
        return LockAttempt(bool(taken), held.decode() if isinstance(held, bytes) else held)

    async def take_over(self, office_id: str, terminal_id: str, stale: LockAttempt, token: str) -> LockAttempt:
        """Takes the terminal from a holder found stale, if that holder still has it (or has let it go since)."""
        taken = await self._run(
            self._take_over, [self._key(office_id, terminal_id)], [stale.token, token, self.hold_ms]
        )
        return LockAttempt(True, token) if taken else stale

    async def holder(self, office_id: str, terminal_id: str) -> str | None:
        """The Idempotency-Key of the request holding the terminal, or None when it is free."""
        token = await self._run(self._holder, [self._key(office_id, terminal_id)])
        return None if token is None else LockAttempt(False, token.decode()).holder

    def release(self, office_id: str, terminal_id: str, token: str) -> None:
        """Lets the terminal go if `token` still holds it: with this process's next script, or alone once
        `RELEASE_DELAY_S` has passed."""
        self._releases.append((self._key(office_id, terminal_id), token))
        if self._release_timer is None:
            self._release_timer = asyncio.get_running_loop().call_later(RELEASE_DELAY_S, self._send_releases_alone)

    async def hold_pending(self, office_id: str, terminal_id: str, token: str) -> None:
        """Keeps the terminal for a charge its request leaves pending."""
        await self._run(self._extend, [self._key(office_id, terminal_id)], [token, self.pending_hold_ms])

    async def release_charge(self, office_id: str, terminal_id: str, charge_id: uuid.UUID) -> None:
        """Lets the terminal go if it is held for this charge (which has become final)."""
        await self._run(self._release_charge, [self._key(office_id, terminal_id)], [f"{charge_id}:"])

    async def close(self) -> None:
        """Sends the releases still waiting, and waits for those under way."""
        if self._releases:
            await self._pipelined(self._take_releases())
        if self._sending:
            await asyncio.wait(self._sending)

    async def _run(self, script, keys: list[str], args: list | None = None):
        """`script` on `keys` with `args`, after the releases waiting, in one write; returns its answer."""
        if self._sending:
            # Releases sent alone and not yet answered: a charge of one of their terminals must find it free.
            await asyncio.wait(self._sending)
        args = args or []
        releases = self._take_releases()
        if not releases:
            return await script(keys=keys, args=args)
        answer = await self._pipelined(releases, (script, keys, args))
        if isinstance(answer, NoScriptError):
            # The server lost its scripts (a restart): this one did nothing, and the releases ahead of it are done.
            return await script(keys=keys, args=args)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _take_releases(self) -> list[tuple[str, str]]:
        releases, self._releases = self._releases, []
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        return releases

    def _send_releases_alone(self) -> None:
        self._release_timer = None
        task = asyncio.get_running_loop().create_task(self._pipelined(self._take_releases()))
        self._sending.add(task)
        task.add_done_callback(self._sent_alone)

    def _sent_alone(self, task: asyncio.Task) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not let terminals go: %s", task.exception())

    async def _pipelined(self, releases: list[tuple[str, str]], then: tuple | None = None):
        """The releases, then `then` (script, keys, args) if any, in one write and in that order; returns what
        `then` answered (an exception, too), or None.

        The releases go as EVAL of the script's text, which a server that lost its scripts still runs, so that they
        run ahead of `then` whatever. A release that fails is only logged: the terminal is taken over by its next
        charge, its holder's charge being final."""
        pipe = self.redis.pipeline(transaction=False)
        for key, token in releases:
            pipe.eval(_RELEASE, 1, key, token)
        if then is not None:
            script, keys, args = then
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        answers = await pipe.execute(raise_on_error=False)
        for answer in answers[: len(releases)]:
            if isinstance(answer, Exception):
                log.warning("could not let a terminal go: %s", answer)
        return answers[-1] if then is not None else None
