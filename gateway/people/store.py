"""People in PostgreSQL, their failed sign-ins and lock-outs, and their entries in the access log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.people.accounts import Person

_COLUMNS = "username, role, display_name, province, office_id, agency_id, operator_id"


@dataclass(frozen=True)
class Account:
    """A person's row as sign-in needs it."""

    person: Person
    password_hash: str
    totp_secret: str
    totp_last_step: int
    locked_until: datetime | None


def _person(row) -> Person:
    return Person(
        username=row["username"],
        role=row["role"],
        display_name=row["display_name"],
        province=row["province"],
        office_id=row["office_id"],
        agency_id=row["agency_id"],
        operator_id=row["operator_id"],
    )


async def insert_person(db, person: Person, *, password_hash: str, totp_secret: str) -> bool:
    """False when the username is taken."""
    result = await db.execute(
        f"""INSERT INTO people ({_COLUMNS}, password_hash, totp_secret)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (username) DO NOTHING""",
        person.username,
        person.role,
        person.display_name,
        person.province,
        person.office_id,
        person.agency_id,
        person.operator_id,
        password_hash,
        totp_secret,
    )
    return bool(result.endswith(" 1"))


async def active_person(db, username: str) -> Person | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM people WHERE username = $1 AND disabled_at IS NULL", username)
    return None if row is None else _person(row)


async def account(db, username: str) -> Account | None:
    row = await db.fetchrow(
        f"""SELECT {_COLUMNS}, password_hash, totp_secret, totp_last_step, locked_until
            FROM people WHERE username = $1 AND disabled_at IS NULL""",
        username,
    )
    if row is None:
        return None
    return Account(_person(row), row["password_hash"], row["totp_secret"], row["totp_last_step"], row["locked_until"])


async def record_failure(db, username: str, *, now: datetime, max_failures: int, lockout: timedelta) -> bool:
    """Counts a failed attempt; the attempt that reaches `max_failures` locks the account for `lockout` (and starts
    the count again). True when the account is now locked."""
    locked = await db.fetchval(
        """UPDATE people SET
               failed_attempts = CASE WHEN failed_attempts + 1 >= $2 THEN 0 ELSE failed_attempts + 1 END,
               locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN $3 + $4::interval ELSE locked_until END
           WHERE username = $1 RETURNING locked_until > $3""",
        username,
        max_failures,
        now,
        lockout,
    )
    return bool(locked)


async def accept_code(db, username: str, step: int) -> bool:
    """Marks the TOTP step used and clears the failure count; False if the step (or a later one) was used first."""
    result = await db.execute(
        """UPDATE people SET totp_last_step = $2, failed_attempts = 0, locked_until = NULL
           WHERE username = $1 AND totp_last_step < $2""",
        username,
        step,
    )
    return bool(result.endswith(" 1"))


async def unlock(db, username: str) -> bool:
    result = await db.execute(
        "UPDATE people SET failed_attempts = 0, locked_until = NULL WHERE username = $1", username
    )
    return bool(result.endswith(" 1"))


async def disable(db, username: str) -> bool:
    result = await db.execute(
        "UPDATE people SET disabled_at = now() WHERE username = $1 AND disabled_at IS NULL", username
    )
    return bool(result.endswith(" 1"))


async def list_people(db) -> list[tuple[Person, datetime | None, datetime | None]]:
    rows = await db.fetch(f"SELECT {_COLUMNS}, locked_until, disabled_at FROM people ORDER BY username")
    return [(_person(row), row["locked_until"], row["disabled_at"]) for row in rows]


async def log_person_access(
    db, *, username: str, method: str, path: str, query: str, status: int, event: str | None = None
) -> None:
    """An entry in the access log made by a person (a page, an export, a sign-in attempt)."""
    await db.execute(
        """INSERT INTO regulator_access_log (username, method, path, query, status, event)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        username,
        method,
        path,
        query,
        status,
        event,
    )
