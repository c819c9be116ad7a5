"""`pishkhan`: the one command line of the gateway."""
from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
import tomllib
from datetime import datetime
from pathlib import Path

from gateway import receipts_cli
from gateway.config import load_settings

SIMULATORS = {
    "psp": "psp_adapters.simulators.psp_host",
    "sms": "gateway.messaging.simulators.sms_centre",
    "poosheh": "gateway.messaging.simulators.poosheh_inbox",
}


def _run(coro):
    return asyncio.run(coro)


def cmd_serve(args) -> int:
    from gateway.server import serve
    settings = load_settings()
    serve(settings, workers=args.workers or settings.workers)
    return 0


def cmd_migrate(args) -> int:
    from gateway.storage.migrate import apply_migrations
    applied = _run(apply_migrations(_database_url()))
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def cmd_registry_load(args) -> int:
    from gateway.registry import parse_registry
    from gateway.storage.db import connect
    from gateway.storage.registry_store import save_registry
    registry = parse_registry(tomllib.loads(Path(args.path).read_text(encoding="utf-8")))

    async def load() -> int:
        conn = await connect(_database_url())
        try:
            return await save_registry(conn, registry, str(args.path))
        finally:
            await conn.close()
    version = _run(load())
    print(f"registry version {version}: {len(registry.offices)} offices, {len(registry.terminals)} terminals, "
          f"{len(registry.services)} services, {len(registry.agencies)} agencies, {len(registry.psps)} PSPs")
    return 0


def cmd_registry_show(args) -> int:
    from gateway.storage.db import connect
    from gateway.storage.registry_store import read_registry

    async def read():
        conn = await connect(_database_url())
        try:
            return await read_registry(conn)
        finally:
            await conn.close()
    document = _run(read()).to_document()
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


def cmd_tariffs_load(args) -> int:
    from gateway.domain.tariff_files import load_tariff_documents
    from gateway.domain.tariffs import SOURCE_KEY, TariffBook
    from gateway.storage.db import connect
    from gateway.storage.tariff_store import save_tariff_documents
    directory = Path(args.directory) if args.directory else load_settings().tariff_dir
    documents = load_tariff_documents(directory)
    sources = [d[SOURCE_KEY] for d in documents]
    book = TariffBook.from_documents(documents)

    async def save() -> None:
        conn = await connect(_database_url())
        try:
            await save_tariff_documents(conn, [(d["approval"]["reference"], source, d)
                                               for d, source in zip(documents, sources)])
        finally:
            await conn.close()
    _run(save())
    print(f"{len(book.approvals())} tariff approvals loaded from {directory}")
    return 0


def cmd_keys_create(args) -> int:
    from gateway.storage.db import connect
    from gateway.storage.keys_store import create_api_key

    async def create() -> str:
        conn = await connect(_database_url())
        try:
            return await create_api_key(conn, role=args.role, terminal_id=args.terminal_id,
                                        agency_id=args.agency_id, label=args.label or "")
        finally:
            await conn.close()
    token = _run(create())
    print(f"created a {args.role} key; it is shown once, store it now:")
    print(token)
    return 0


def cmd_signing_key_create(args) -> int:
    from receipts.keys_files import create_key
    key_dir = Path(args.key_dir) if args.key_dir else load_settings().key_dir
    valid_from = datetime.fromisoformat(args.valid_from.replace("Z", "+00:00")) if args.valid_from else None
    key = create_key(key_dir, valid_from=valid_from)
    print(f"created receipt-signing key {key.key_id} in {key_dir}, valid from {key.valid_from.isoformat()}")
    return 0


def cmd_sim(args) -> int:
    module = importlib.import_module(SIMULATORS[args.kind])
    return module.main(args.rest) or 0


def cmd_dev(args) -> int:
    from gateway import devrun
    if args.action == "run":
        return devrun.run()
    return devrun.exec_with_stack(args.rest)


def _database_url() -> str:
    url = load_settings().database_url
    if not url:
        sys.exit("DATABASE_URL is not set (make run and make test set it for the embedded server)")
    return url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pishkhan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (and its workers unless PISHKHAN_RUN_WORKERS=0)")
    serve.add_argument("--workers", type=int, default=0, help="processes sharing the port (SO_REUSEPORT)")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply schema migrations (idempotent)").set_defaults(func=cmd_migrate)

    registry = sub.add_parser("registry", help="load or print the registry").add_subparsers(dest="action",
                                                                                             required=True)
    load = registry.add_parser("load", help="load a registry TOML file")
    load.add_argument("path")
    load.set_defaults(func=cmd_registry_load)
    show = registry.add_parser("show", help="print the registry")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_registry_show)

    tariffs = sub.add_parser("tariffs", help="load the approved tariff tables").add_subparsers(dest="action",
                                                                                               required=True)
    tload = tariffs.add_parser("load", help="load every table in a directory (default: PISHKHAN_TARIFF_DIR)")
    tload.add_argument("directory", nargs="?")
    tload.set_defaults(func=cmd_tariffs_load)

    keys = sub.add_parser("keys", help="API keys and receipt-signing keys").add_subparsers(dest="action",
                                                                                           required=True)
    create = keys.add_parser("create", help="issue an API key; the key alone is the last line printed")
    create.add_argument("--role", required=True, choices=["terminal", "agency", "regulator", "admin"])
    create.add_argument("--terminal-id")
    create.add_argument("--agency-id")
    create.add_argument("--label")
    create.set_defaults(func=cmd_keys_create)
    signing = keys.add_parser("signing-create", help="create a new receipt-signing key (rotation)")
    signing.add_argument("--key-dir")
    signing.add_argument("--valid-from", help="RFC 3339 instant the key starts signing (default: now); running "
                                               "gateways pick the new key up without a restart")
    signing.set_defaults(func=cmd_signing_key_create)

    sim = sub.add_parser("sim", help="start a simulator: psp (terminals and PSP host), sms, poosheh")
    sim.add_argument("kind", choices=sorted(SIMULATORS))
    sim.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's own options (--help)")
    sim.set_defaults(func=cmd_sim)

    receipts_cli.add_commands(sub)

    dev = sub.add_parser("dev", help="run the whole stack locally (make run), or a command beside it (make test)")
    dev.add_argument("action", choices=["run", "exec"])
    dev.add_argument("rest", nargs=argparse.REMAINDER)
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=load_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "keys" and args.action == "create":
        if (args.role == "terminal") != bool(args.terminal_id) or (args.role == "agency") != bool(args.agency_id):
            sys.exit("--terminal-id goes with --role terminal, and --agency-id with --role agency")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
