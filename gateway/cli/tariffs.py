"""`pishkhan tariffs load [DIR]`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.cli.common import connection
from gateway.core.tariffs import SOURCE_KEY, TariffBook
from gateway.platform.config import load_settings
from gateway.registry.tariff_files import load_tariff_documents
from gateway.registry.tariff_store import save_tariff_documents


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


def add_commands(sub: argparse._SubParsersAction) -> None:
    tariffs = sub.add_parser("tariffs", help="load the approved tariff tables").add_subparsers(
        dest="action", required=True
    )
    load = tariffs.add_parser("load", help="load every table in a directory (default: PISHKHAN_TARIFF_DIR)")
    load.add_argument("directory", nargs="?")
    load.set_defaults(func=cmd_load)
