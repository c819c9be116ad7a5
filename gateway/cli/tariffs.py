"""`pishkhan tariffs load [DIR]` and `pishkhan tariffs sheet --office ID`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.cli.common import connection, instant
from gateway.core.clock import system_clock
from gateway.core.tariff_sheet import tariff_sheet
from gateway.core.tariffs import SOURCE_KEY, TariffBook
from gateway.platform.config import load_settings
from gateway.registry.store import read_registry
from gateway.registry.tariff_files import load_tariff_documents
from gateway.registry.tariff_poster import render_poster, sheet_url
from gateway.registry.tariff_store import read_tariff_documents, save_tariff_documents


def cmd_load(args: argparse.Namespace) -> int:
    directory = Path(args.directory) if args.directory else load_settings().tariff_dir
    documents = load_tariff_documents(directory)
    book = TariffBook.from_documents(documents)

    async def save() -> None:
        async with connection() as conn:
            await save_tariff_documents(conn, [(d["approval"]["reference"], d[SOURCE_KEY], d) for d in documents])

    asyncio.run(save())
    print(f"{len(book.approvals())} tariff approvals loaded from {directory}")
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
    tariffs = sub.add_parser(
        "tariffs", help="load the approved tariff tables; print an office's tariff sheet"
    ).add_subparsers(dest="action", required=True)
    load = tariffs.add_parser("load", help="load every table in a directory (default: PISHKHAN_TARIFF_DIR)")
    load.add_argument("directory", nargs="?")
    load.set_defaults(func=cmd_load)
    sheet = tariffs.add_parser("sheet", help="the office's tariff sheet as an A4 poster (PDF) to hang in the office")
    sheet.add_argument("--office", required=True, help="office id")
    sheet.add_argument("--output", help="PDF file to write (default: tariffs-OFFICE.pdf)")
    sheet.add_argument("--at", help="RFC 3339 instant to show the tariffs of (default: now)")
    sheet.set_defaults(func=cmd_sheet)
