"""`pishkhan registry load PATH` and `pishkhan registry show [--json]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import tomllib
from pathlib import Path

from gateway.cli.common import connection
from gateway.core.registry import Registry, parse_registry
from gateway.registry.store import read_registry, save_registry


def cmd_load(args: argparse.Namespace) -> int:
    registry = parse_registry(tomllib.loads(Path(args.path).read_text(encoding="utf-8")))

    async def load() -> int:
        async with connection() as conn:
            return await save_registry(conn, registry, str(args.path))

    version = asyncio.run(load())
    print(
        f"registry version {version}: {len(registry.offices)} offices, {len(registry.terminals)} terminals, "
        f"{len(registry.services)} services, {len(registry.agencies)} agencies, {len(registry.psps)} PSPs"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    async def read() -> Registry:
        async with connection() as conn:
            return await read_registry(conn)

    document = asyncio.run(read()).to_document()
    if args.json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    for section, entries in document.items():
        print(f"{section}:")
        for key, entry in entries.items():
            label = entry.get("name", "")
            extra = {k: entry[k] for k in ("office", "psp", "agency", "status", "kind") if k in entry}
            print(f"  {key}  {label}  {' '.join(f'{k}={v}' for k, v in extra.items())}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    registry = sub.add_parser("registry", help="load or print the registry").add_subparsers(
        dest="action", required=True
    )
    load = registry.add_parser("load", help="load a registry TOML file")
    load.add_argument("path")
    load.set_defaults(func=cmd_load)
    show = registry.add_parser("show", help="print the registry")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
