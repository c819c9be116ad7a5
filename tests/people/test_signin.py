"""Signing in against the real PostgreSQL and Redis: password then TOTP code, codes good once, lock-out after
repeated failures, idle and absolute session expiry, every attempt in the access log."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pyotp
import pytest

from gateway.core.errors import AccountLocked, SignInFailed
from gateway.people.enrolment import enrol

PASSWORD = "correct horse battery"


async def enrolled(db, username: str, **account) -> str:
    account = account or {"role": "regulator", "province": "اصفهان"}
    return (await enrol(db, password=PASSWORD, username=username, **account)).totp_secret


async def log_events(db, username: str) -> list[tuple[str, int]]:
    rows = await db.fetch("SELECT event, status FROM regulator_access_log WHERE username = $1 ORDER BY id", username)
    return [(row["event"], row["status"]) for row in rows]


async def test_password_then_code_signs_in_and_the_session_names_the_person(db, signin, clock, username):
    secret = await enrolled(db, username)
    ticket = await signin.check_password(username, PASSWORD, path="/signin")
    person, token = await signin.check_code(ticket, pyotp.TOTP(secret).at(clock()), path="/signin/code")
    assert (person.username, person.role, person.province) == (username, "regulator", "اصفهان")
    assert (await signin.person(token)).username == username
    assert await log_events(db, username) == [("signin.password_accepted", 200), ("signin.succeeded", 303)]


async def test_a_code_is_good_once_and_a_ticket_only_until_it_is_spent(db, signin, clock, username):
    secret = await enrolled(db, username)
    code = pyotp.TOTP(secret).at(clock())
    ticket = await signin.check_password(username, PASSWORD, path="/signin")
    await signin.check_code(ticket, code, path="/signin/code")
    with pytest.raises(SignInFailed, match="expired"):
        await signin.check_code(ticket, code, path="/signin/code")
    second = await signin.check_password(username, PASSWORD, path="/signin")
    with pytest.raises(SignInFailed):
        await signin.check_code(second, code, path="/signin/code")  # the same code, replayed


async def test_wrong_passwords_and_codes_lock_the_account_even_for_the_right_password(db, signin, clock, username):
    secret = await enrolled(db, username)
    with pytest.raises(SignInFailed):
        await signin.check_password(username, "wrong password!", path="/signin")
    ticket = await signin.check_password(username, PASSWORD, path="/signin")
    with pytest.raises(SignInFailed):
        await signin.check_code(ticket, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111", path="/s")
    with pytest.raises(AccountLocked):
        await signin.check_password(username, "wrong again!!", path="/signin")
    with pytest.raises(AccountLocked):
        await signin.check_password(username, PASSWORD, path="/signin")
    clock.now += timedelta(seconds=601)
    ticket = await signin.check_password(username, PASSWORD, path="/signin")
    await signin.check_code(ticket, pyotp.TOTP(secret).at(clock()), path="/signin/code")
    events = [event for event, _ in await log_events(db, username)]
    assert events == [
        "signin.password_failed",
        "signin.password_accepted",
        "signin.code_failed",
        "signin.password_failed",
        "signin.locked",
        "signin.locked",
        "signin.password_accepted",
        "signin.succeeded",
    ]


async def test_an_unknown_username_is_refused_like_a_wrong_password_and_logged(db, signin, username):
    with pytest.raises(SignInFailed) as refusal:
        await signin.check_password(username, PASSWORD, path="/signin")
    assert refusal.value.message == SignInFailed.default_message
    assert await log_events(db, username) == [("signin.password_failed", 401)]


async def test_a_session_ends_after_its_idle_time_or_its_absolute_time(db, signin, clock, username):
    secret = await enrolled(db, username)
    ticket = await signin.check_password(username, PASSWORD, path="/signin")
    _, token = await signin.check_code(ticket, pyotp.TOTP(secret).at(clock()), path="/signin/code")
    for _ in range(3):  # requests within the absolute hour keep it alive ...
        clock.now += timedelta(minutes=19)
        assert await signin.person(token) is not None
    clock.now += timedelta(minutes=4)  # ... but nothing keeps it past that hour
    assert await signin.person(token) is None
    _, idle_token = await signin.check_code(
        await signin.check_password(username, PASSWORD, path="/signin"),
        pyotp.TOTP(secret).at(clock()),
        path="/signin/code",
    )
    ttl = await signin.sessions.redis.ttl(f"pishkhan:session:{hashlib.sha256(idle_token.encode()).hexdigest()}")
    assert 0 < ttl <= 60  # Redis ends it after the idle minute


async def test_a_disabled_person_loses_their_session_at_the_next_request(db, signin, clock, username):
    secret = await enrolled(db, username, role="office", office_id="11110001")
    ticket = await signin.check_password(username, PASSWORD, path="/signin")
    _, token = await signin.check_code(ticket, pyotp.TOTP(secret).at(clock()), path="/signin/code")
    await db.execute("UPDATE people SET disabled_at = now() WHERE username = $1", username)
    assert await signin.person(token) is None
