"""`pishkhan tariffs load|keygen|sign|verify|sheet`: signed tariff approvals, from the approving body to the
database, and an office's tariff sheet to hang on its wall."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from gateway.cli.common import connection, instant
from gateway.core.clock import system_clock
from gateway.core.tariff_sheet import tariff_sheet
from gateway.core.tariffs import SIGNATURE_KEY, TariffBook, TariffTableError
from gateway.core.text import normalize_persian
from gateway.platform.config import load_settings
from gateway.registry.store import read_registry
from gateway.registry.tariff_approvals import (
    publish_approver_key,
    read_approver_keys,
    sign_approval,
    signature_path,
    verified_book,
)
from gateway.registry.tariff_files import load_tariff_document, load_tariff_documents
from gateway.registry.tariff_poster import render_poster, sheet_url
from gateway.registry.tariff_store import read_tariff_documents, save_tariff_documents
from receipts.keys_files import create_key, load_key_file


def _approver_keys(args: argparse.Namespace) -> Path:
    return Path(args.keys) if args.keys else load_settings().approver_keys


def cmd_load(args: argparse.Namespace) -> int:
    directory = Path(args.directory) if args.directory else load_settings().tariff_dir
    try:
        approvers = read_approver_keys(_approver_keys(args))
        documents = load_tariff_documents(directory)
        verified_book(documents, approvers)  # every file checked before the database is touched

        async def save() -> int:
            async with connection() as conn:
                return len((await save_tariff_documents(conn, documents, approvers)).approvals())

        stored = asyncio.run(save())
    except TariffTableError as refused:
        sys.exit(f"nothing loaded: {refused}")
    print(f"{len(documents)} signed tariff approvals loaded from {directory}; {stored} approvals stored in all")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    valid_from: datetime | None = instant(args.valid_from) if args.valid_from else None
    key = create_key(args.key_dir, args.key_id, valid_from)
    if args.publish:
        publish_approver_key(Path(args.publish), key.verifying_key, normalize_persian(args.approving_body))
    entry = {**key.verifying_key.public_entry(), "approving_body": normalize_persian(args.approving_body)}
    print(json.dumps(entry, ensure_ascii=False, indent=2))
    print(f"private key: {Path(args.key_dir) / key.key_id}.pem (keep it with the approving body)")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        document = load_tariff_document(path)
        document.pop(SIGNATURE_KEY, None)
        TariffBook.from_documents([document])  # only a valid approval is worth a signature
        signature = sign_approval(document, load_key_file(args.key), path.name)
    except (TariffTableError, OSError, ValueError) as error:
        sys.exit(f"not signed: {error}")
    target = signature_path(path)
    target.write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    print(f"{path.name} signed by key {signature['key_id']}: {target}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        book = verified_book([load_tariff_document(path)], read_approver_keys(_approver_keys(args)))
    except TariffTableError as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 1
    [approval] = book.approvals()
    print(
        f"{path.name}: approval {approval['reference']} of {approval['approving_body']}, signed by key "
        f"{approval['signed_approval']['key_id']}: genuine and unaltered"
    )
    return 0


def cmd_sheet(args: argparse.Namespace) -> int:
    settings = load_settings()

    async def read() -> tuple:
        async with connection() as conn:
            return await read_registry(conn), TariffBook.from_documents(await read_tariff_documents(conn))

    registry, book = asyncio.run(read())
    at = instant(args.at) if args.at else system_clock()
    try:
        sheet = tariff_sheet(registry, book, args.office, at)
    except KeyError:
        sys.exit(f"no office {args.office} in the registry")
    pdf = render_poster(sheet, sheet_url(settings.public_base_url, args.office), str(settings.receipt_font))
    output = Path(args.output or f"tariffs-{args.office}.pdf")
    output.write_bytes(pdf)
    approvals = ", ".join(f"{a.reference} (from {a.effective_from})" for a in sheet.approvals) or "none"
    print(f"tariff sheet of office {args.office} for {sheet.day} written to {output}; approvals: {approvals}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    tariffs = sub.add_parser("tariffs", help="signed tariff approvals; an office's tariff sheet").add_subparsers(
        dest="action", required=True
    )
    keys_help = "the approvers' public keys file (default: PISHKHAN_APPROVER_KEYS)"

    load = tariffs.add_parser(
        "load", help="load every signed approval in a directory (default: PISHKHAN_TARIFF_DIR); all or nothing"
    )
    load.add_argument("directory", nargs="?")
    load.add_argument("--keys", help=keys_help)
    load.set_defaults(func=cmd_load)

    keygen = tariffs.add_parser("keygen", help="create an approving body's signing key")
    keygen.add_argument("--key-dir", required=True, help="where the private key is written (<key_id>.pem and .json)")
    keygen.add_argument("--key-id", help="default: k-YYYYMMDD-xxxx")
    keygen.add_argument("--valid-from", help="RFC 3339 instant the key is valid from (default: now)")
    keygen.add_argument(
        "--approving-body", required=True, help="the body the key belongs to, in Persian, as its approvals name it"
    )
    keygen.add_argument("--publish", metavar="KEYS_FILE", help="also add the public key to this approver keys file")
    keygen.set_defaults(func=cmd_keygen)

    sign = tariffs.add_parser("sign", help="sign an approval file: writes FILE.sig beside it")
    sign.add_argument("file")
    sign.add_argument("--key", required=True, help="the approving body's private key (<key_id>.pem)")
    sign.set_defaults(func=cmd_sign)

    verify = tariffs.add_parser("verify", help="check an approval file and its FILE.sig against the approver keys")
    verify.add_argument("file")
    verify.add_argument("--keys", help=keys_help)
    verify.set_defaults(func=cmd_verify)

    sheet = tariffs.add_parser("sheet", help="the office's tariff sheet as an A4 poster (PDF) to hang in the office")
    sheet.add_argument("--office", required=True, help="office id")
    sheet.add_argument("--output", help="PDF file to write (default: tariffs-OFFICE.pdf)")
    sheet.add_argument("--at", help="RFC 3339 instant to show the tariffs of (default: now)")
    sheet.set_defaults(func=cmd_sheet)
