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
from gateway.reconciliation import cli as reconcile_cli
from gateway.config import load_settings
from gateway.log_redaction import install_log_redaction

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
                                        agency_id=args.agency_id, label=args.label or "",
                                        require_signature=args.require_signature)
        finally:
            await conn.close()
    token = _run(create())
    signed = " that must sign its requests (docs/security.md)" if args.require_signature else ""
    print(f"created a {args.role} key{signed}; it is shown once, store it now:")
    print(token)
    return 0


def cmd_keys_revoke(args) -> int:
    from gateway.storage.db import connect
    from gateway.storage.keys_store import revoke_api_key

    async def revoke() -> bool:
        conn = await connect(_database_url())
        try:
            return await revoke_api_key(conn, args.key_id)
        finally:
            await conn.close()
    if not _run(revoke()):
        sys.exit(f"no active key {args.key_id}")
    print(f"revoked key {args.key_id}; every gateway refuses it from now on")
    return 0


def cmd_signing_key_create(args) -> int:
    from receipts.keys_files import create_key
    key_dir = Path(args.key_dir) if args.key_dir else load_settings().key_dir
    valid_from = datetime.fromisoformat(args.valid_from.replace("Z", "+00:00")) if args.valid_from else None
    key = create_key(key_dir, valid_from=valid_from)
    print(f"created receipt-signing key {key.key_id} in {key_dir}, valid from {key.valid_from.isoformat()}")
    return 0


def cmd_outbox_run(args) -> int:
    from gateway.outbox import run_outbox_process
    _database_url()
    _run(run_outbox_process(load_settings(), until_idle=args.until_idle))
    return 0


def cmd_oversight_detect(args) -> int:
    from gateway.oversight.command import DetectionBusy, detect_once
    _database_url()
    try:
        report = _run(detect_once(load_settings(), _instant(args.since), _instant(args.until)))
    except DetectionBusy as busy:
        sys.exit(str(busy))
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    return 0


def _instant(text: str | None):
    from datetime import datetime
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        sys.exit(f"{text}: give an RFC 3339 instant with a time zone (e.g. 2025-03-21T00:00:00Z)")
    return moment


def cmd_sim(args) -> int:
    module = importlib.import_module(SIMULATORS[args.kind])
    return module.main(args.rest) or 0


def cmd_check_conservation(args) -> int:
    from gateway.conservation import run_command
    return run_command(args, _database_url(), load_settings().psp_endpoint_overrides())


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
    create.add_argument("--require-signature", action="store_true",
                        help="the key must sign every request (HMAC-SHA256) and never send its secret")
    create.set_defaults(func=cmd_keys_create)
    revoke = keys.add_parser("revoke", help="revoke an API key at once (KEY_ID is the part between pk_ and the dot)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_keys_revoke)
    signing = keys.add_parser("signing-create", help="create a new receipt-signing key (rotation)")
    signing.add_argument("--key-dir")
    signing.add_argument("--valid-from", help="RFC 3339 instant the key starts signing (default: now); running "
                                               "gateways pick the new key up without a restart")
    signing.set_defaults(func=cmd_signing_key_create)

    outbox = sub.add_parser("outbox", help="deliver the outbox (SMS, Iran Poosheh)").add_subparsers(
        dest="action", required=True)
    outbox_run = outbox.add_parser("run", help="run the dispatcher and the delivery-report poller on their own")
    outbox_run.add_argument("--until-idle", action="store_true",
                            help="only send, and exit once no message waits to be sent")
    outbox_run.set_defaults(func=cmd_outbox_run)

    oversight = sub.add_parser("oversight", help="regulator oversight").add_subparsers(dest="action", required=True)
    detect = oversight.add_parser("detect", help="record findings (violations) from refusals, split charging and "
                                                 "off-book terminal activity; prints the new findings as JSON")
    detect.add_argument("--since", help="RFC 3339 start of the range to scan (default: where the last pass ended)")
    detect.add_argument("--until", help="RFC 3339 end of the range to scan (default: now)")
    detect.set_defaults(func=cmd_oversight_detect)

    sim = sub.add_parser("sim", help="start a simulator: psp (terminals and PSP host), sms, poosheh")
    sim.add_argument("kind", choices=sorted(SIMULATORS))
    sim.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's own options (--help)")
    sim.set_defaults(func=cmd_sim)

    receipts_cli.add_commands(sub)
    reconcile_cli.add_commands(sub)

    check = sub.add_parser("check-conservation", help="compare the PSPs' ledgers with the gateway's charges "
                                                      "(exit 0 when every amount is accounted for)")
    check.add_argument("--psp-control", action="append", metavar="PSP_ID=URL",
                       help="a simulator control API (repeatable; default PISHKHAN_PSP_CONTROL, else each "
                            "registry PSP's ISO port + 1)")
    check.add_argument("--transactions", action="append", default=[], metavar="[PSP_ID=]FILE",
                       help="a PSP transaction file of JSON lines, instead of or besides the control APIs")
    check.add_argument("--since", metavar="MOMENT",
                       help="only charges created at or after this ISO 8601 moment (UTC unless it says)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_check_conservation)

    dev = sub.add_parser("dev", help="run the whole stack locally (make run), or a command beside it (make test)")
    dev.add_argument("action", choices=["run", "exec"])
    dev.add_argument("rest", nargs=argparse.REMAINDER)
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=load_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_log_redaction()
    args = build_parser().parse_args(argv)
    if args.command == "keys" and args.action == "create":
        if (args.role == "terminal") != bool(args.terminal_id) or (args.role == "agency") != bool(args.agency_id):
            sys.exit("--terminal-id goes with --role terminal, and --agency-id with --role agency")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
