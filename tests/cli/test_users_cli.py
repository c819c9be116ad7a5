"""`pishkhan users`: a person created from the command line can sign in with the printed TOTP secret."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pyotp

from gateway.people import store


def _pishkhan(settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    command = [sys.executable, "-m", "gateway.cli", *args]
    return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)


async def test_create_prints_the_secret_once_and_refuses_an_operator_of_another_office(db, settings):
    username = f"clerk-{uuid.uuid4().hex[:8]}"
    created = _pishkhan(
        settings,
        "users",
        "create",
        username,
        "--role",
        "operator",
        "--office",
        "11110001",
        "--operator",
        "op-12",
        stdin="a long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.split("secret: ")[1].split()[0]
    uri = created.stdout.strip().splitlines()[-1]
    assert pyotp.parse_uri(uri).secret == secret
    account = await store.account(db, username)
    assert account.person.operator_id == "op-12" and account.totp_secret == secret
    assert account.password_hash.startswith("$argon2id$")

    listed = _pishkhan(settings, "users", "list")
    assert f"{username}\toperator\t11110001 operator op-12\tactive" in listed.stdout

    refused = _pishkhan(
        settings,
        "users",
        "create",
        "other-clerk",
        "--role",
        "operator",
        "--office",
        "11110001",
        "--operator",
        "op-21",
        stdin="a long enough password\n",
    )
    assert refused.returncode != 0
    assert "no operator op-21 of office 11110001" in refused.stderr
    short = _pishkhan(settings, "users", "create", "short-pass", "--role", "regulator", stdin="short\n")
    assert short.returncode != 0 and "at least 12 characters" in short.stderr
