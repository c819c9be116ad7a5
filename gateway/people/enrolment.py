"""Creating a person: the account checked against the stored registry, the password hashed, a TOTP secret made."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.people import store
from gateway.people.accounts import AccountInvalid, Person, new_person
from gateway.people.credentials import hash_password, new_totp_secret, provisioning_uri
from gateway.registry.store import read_registry


@dataclass(frozen=True)
class Enrolled:
    person: Person
    totp_secret: str
    otpauth_uri: str


async def enrol(conn, *, password: str, **account: str | None) -> Enrolled:
    """Stores the new person; AccountInvalid when the account does not fit the registry or the name is taken,
    ValueError for a password too short. The TOTP secret is returned to be shown once."""
    person = new_person(await read_registry(conn), **account)  # type: ignore[arg-type]
    secret = new_totp_secret()
    if not await store.insert_person(conn, person, password_hash=hash_password(password), totp_secret=secret):
        raise AccountInvalid(f"the username {person.username} is taken")
    return Enrolled(person, secret, provisioning_uri(secret, person.username))
