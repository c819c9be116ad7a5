"""Signing in, in two steps: the password (argon2), then a TOTP code. Every attempt, right or wrong, is written to
the access log. Wrong passwords and wrong codes count together; the attempt that reaches the limit locks the account
for a while, and a locked account is refused even with the right password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from gateway.core.clock import Clock
from gateway.core.errors import AccountLocked, SignInFailed
from gateway.people import store
from gateway.people.accounts import Person
from gateway.people.credentials import accepted_step, password_matches
from gateway.people.sessions import SessionPolicy, Sessions

TICKET_TTL_S = 300
MAX_USERNAME_LOGGED = 64


@dataclass(frozen=True)
class SignInPolicy:
    max_failures: int
    lockout_s: int
    session: SessionPolicy


class SignIn:
    def __init__(self, pool, redis, policy: SignInPolicy, clock: Clock) -> None:
        self.pool = pool
        self.policy = policy
        self.clock = clock
        self.sessions = Sessions(redis, policy.session)

    async def check_password(self, username: str, password: str, *, path: str) -> str:
        """The ticket for the second step; SignInFailed or AccountLocked otherwise."""
        username = username.strip().lower()[:MAX_USERNAME_LOGGED]
        account = await store.account(self.pool, username)
        if account is not None and self._locked(account.locked_until):
            await self._log(username, path, 401, "signin.locked")
            raise AccountLocked()
        if not password_matches(password, account.password_hash if account else None):
            await self._failed(username, path, "signin.password_failed")
        await self._log(username, path, 200, "signin.password_accepted")
        return await self.sessions.issue_ticket(username, TICKET_TTL_S)

    async def check_code(self, ticket: str, code: str, *, path: str) -> tuple[Person, str]:
        """The person and a new session token; SignInFailed or AccountLocked otherwise."""
        username = await self.sessions.ticket_holder(ticket)
        if username is None:
            raise SignInFailed("The sign-in has expired; enter the username and password again.")
        account = await store.account(self.pool, username)
        if account is None:
            raise SignInFailed()
        if self._locked(account.locked_until):
            await self.sessions.spend_ticket(ticket)
            await self._log(username, path, 401, "signin.locked")
            raise AccountLocked()
        step = accepted_step(account.totp_secret, code, self.clock(), account.totp_last_step)
        if step is None or not await store.accept_code(self.pool, username, step):
            await self._failed(username, path, "signin.code_failed", ticket=ticket)
        await self.sessions.spend_ticket(ticket)
        token = await self.sessions.start(username, self.clock())
        await self._log(username, path, 303, "signin.succeeded")
        return account.person, token

    async def person(self, session_token: str) -> Person | None:
        """The signed-in person of a session token (re-read, so a disabled account ends its sessions at once)."""
        username = await self.sessions.username(session_token, self.clock())
        return None if username is None else await store.active_person(self.pool, username)

    async def sign_out(self, session_token: str, person: Person, *, path: str) -> None:
        await self.sessions.end(session_token)
        await self._log(person.username, path, 303, "signout")

    def _locked(self, locked_until) -> bool:
        return locked_until is not None and locked_until > self.clock()

    async def _failed(self, username: str, path: str, event: str, *, ticket: str | None = None) -> NoReturn:
        locked = await store.record_failure(
            self.pool,
            username,
            now=self.clock(),
            max_failures=self.policy.max_failures,
            lockout=timedelta(seconds=self.policy.lockout_s),
        )
        await self._log(username, path, 401, event)
        if locked:
            if ticket:
                await self.sessions.spend_ticket(ticket)
            await self._log(username, path, 401, "signin.locked")
            raise AccountLocked()
        raise SignInFailed()

    async def _log(self, username: str, path: str, status: int, event: str) -> None:
        await store.log_person_access(
            self.pool, username=username, method="POST", path=path, query="", status=status, event=event
        )
