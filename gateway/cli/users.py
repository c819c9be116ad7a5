"""`pishkhan users create | list | unlock | disable`: the people who sign in to the pages."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from gateway.cli.common import connection
from gateway.people import store
from gateway.people.accounts import ROLES, AccountInvalid
from gateway.people.enrolment import Enrolled, enrol


def _password() -> str:
    """From the terminal (asked twice), or the first line of standard input when it is not a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        sys.exit("the two passwords differ")
    return first


def cmd_create(args: argparse.Namespace) -> int:
    password = _password()

    async def create() -> Enrolled:
        async with connection() as conn:
            return await enrol(
                conn,
                password=password,
                username=args.username,
                role=args.role,
                display_name=args.name or "",
                province=args.province,
                office_id=args.office,
                agency_id=args.agency,
                operator_id=args.operator,
            )

    try:
        enrolled = asyncio.run(create())
    except (AccountInvalid, ValueError) as problem:
        sys.exit(str(problem))
    person = enrolled.person
    scope = person.province or person.office_id or person.agency_id or "national"
    print(f"created {person.username} ({person.role}, {scope})")
    print("the second factor's secret is shown once; add it to the person's authenticator app now:")
    print(f"secret: {enrolled.totp_secret}")
    print(enrolled.otpauth_uri)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    async def read():
        async with connection() as conn:
            return await store.list_people(conn)

    for person, locked_until, disabled_at in asyncio.run(read()):
        scope = person.province or person.office_id or person.agency_id or "national"
        state = "disabled" if disabled_at else f"locked until {locked_until.isoformat()}" if locked_until else "active"
        operator = f" operator {person.operator_id}" if person.operator_id else ""
        print(f"{person.username}\t{person.role}\t{scope}{operator}\t{state}")
    return 0


def _change(change, done: str):
    def command(args: argparse.Namespace) -> int:
        async def run() -> bool:
            async with connection() as conn:
                return bool(await change(conn, args.username))

        if not asyncio.run(run()):
            sys.exit(f"no such person {args.username}")
        print(f"{args.username} {done}")
        return 0

    return command


def add_commands(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="people who sign in to the pages").add_subparsers(dest="action", required=True)
    create = users.add_parser(
        "create",
        help="create a person; the password is asked (or read from standard input), the TOTP secret printed once",
    )
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", help="the name shown on the pages")
    create.add_argument("--province", help="regulator: a provincial inspector's province (none: national)")
    create.add_argument("--office", help="office and operator: the office's 8-digit code")
    create.add_argument("--agency", help="agency: the agency's id in the registry")
    create.add_argument("--operator", help="operator: the operator's id, of --office")
    create.set_defaults(func=cmd_create)
    users.add_parser("list", help="every person, role, scope and state").set_defaults(func=cmd_list)
    unlock = users.add_parser("unlock", help="end a lock-out after failed sign-ins")
    unlock.add_argument("username")
    unlock.set_defaults(func=_change(store.unlock, "unlocked"))
    disable = users.add_parser("disable", help="disable a person; their sessions end at their next request")
    disable.add_argument("username")
    disable.set_defaults(func=_change(store.disable, "disabled"))
