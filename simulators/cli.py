"""What `pishkhan sim` and `pishkhan dev` run (gateway/cli/dev.py loads this module by name)."""

from __future__ import annotations

import importlib

SIMULATOR_MODULES = {
    "psp": "simulators.psp.psp_host",
    "sms": "simulators.sms_centre",
    "poosheh": "simulators.poosheh_inbox",
    "civil-registry": "simulators.civil_registry",
    "shahkar": "simulators.shahkar",
}


def run_simulator(kind: str, argv: list[str]) -> int:
    return importlib.import_module(SIMULATOR_MODULES[kind]).main(argv) or 0


def run_dev(action: str, argv: list[str]) -> int:
    from simulators.devstack import run

    if action == "run":
        return run.run()
    return run.exec_with_stack(argv)
