"""A generated registry for load: the demo registry plus a fleet of counter offices, one operator each, and
`terminals_per_office` card terminals each, spread over the demo's licensed PSPs.

Identifiers are 8-digit office codes from 70000001 and 8-digit terminal ids from 20000001, clear of the demo's.
IBANs are Iranian (IR + two mod 97-10 check digits + 22 digits), so the registry loads like a real one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import tomli_w
from stdnum.iso7064 import mod_97_10

from gateway.platform.config import PROJECT_ROOT

DEMO_REGISTRY = PROJECT_ROOT / "gateway" / "registry" / "demo.toml"
FIRST_OFFICE = 70_000_001
FIRST_TERMINAL = 20_000_001
BANK_CODES = ("015", "017", "056", "062", "012")


@dataclass(frozen=True)
class FleetTerminal:
    terminal_id: str
    office_id: str
    operator_id: str
    psp_id: str


def iranian_iban(bban: str) -> str:
    """`IR` + check digits + the 22-digit account part (bank code and account number)."""
    if len(bban) != 22 or not bban.isdigit():
        raise ValueError("an Iranian BBAN has 22 digits")
    return "IR" + mod_97_10.calc_check_digits(bban + "IR") + bban


def demo_registry() -> dict:
    return tomllib.loads(DEMO_REGISTRY.read_text(encoding="utf-8"))


def licensed_psps(registry: dict, today: date) -> list[str]:
    return sorted(
        psp_id
        for psp_id, psp in registry["psps"].items()
        if date.fromisoformat(str(psp["licence_valid_from"]))
        <= today
        <= date.fromisoformat(str(psp["licence_valid_to"]))
    )


def fleet_registry(offices: int, terminals_per_office: int, today: date) -> tuple[dict, list[FleetTerminal]]:
    """The demo registry document extended with the generated fleet, and the fleet's terminals in office order."""
    registry = demo_registry()
    psps = licensed_psps(registry, today)
    services = sorted(registry["services"])
    terminals: list[FleetTerminal] = []
    for index in range(offices):
        office_id = str(FIRST_OFFICE + index)
        operator_id = f"op-{office_id}"
        registry["offices"][office_id] = {
            "name": f"دفتر پیشخوان خدمات دولت شماره {index + 1}",
            "kind": "counter",
            "licence_holder": "دارنده پروانه آزمون بار",
            "licence_number": f"پ-{office_id}",
            "licence_valid_from": "2024-01-01",
            "licence_valid_to": "2029-12-31",
            "status": "active",
            "address": f"تهران، خیابان آزمایش، پلاک {index + 1}",
            "province": "تهران",
            "city": "تهران",
            "city_class": "metropolis",
            "iban": iranian_iban(BANK_CODES[index % len(BANK_CODES)] + f"{index:019d}"),
            "sms_line": f"4040{index % 10**8:08d}",
            "services": services,
        }
        registry["operators"][operator_id] = {"office": office_id, "name": f"متصدی {index + 1}"}
        for slot in range(terminals_per_office):
            number = index * terminals_per_office + slot
            terminal_id = str(FIRST_TERMINAL + number)
            psp_id = psps[number % len(psps)]
            registry["terminals"][terminal_id] = {
                "merchant_id": f"{9 * 10**14 + number:015d}",
                "office": office_id,
                "psp": psp_id,
            }
            terminals.append(FleetTerminal(terminal_id, office_id, operator_id, psp_id))
    for psp_id, psp in registry["psps"].items():
        if psp["endpoint"].get("scheme") == "http":
            # Over HTTP every purchase waiting for its cardholder holds a connection of its own: allow one for each
            # of the PSP's terminals, in every gateway process.
            psp["endpoint"]["connections"] = sum(terminal.psp_id == psp_id for terminal in terminals)
    return registry, terminals


def write_fleet_registry(path: Path, offices: int, terminals_per_office: int, today: date) -> list[FleetTerminal]:
    registry, terminals = fleet_registry(offices, terminals_per_office, today)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomli_w.dumps(registry).encode("utf-8"))
    return terminals


def spread_over_offices(terminals: list[FleetTerminal], count: int) -> list[FleetTerminal]:
    """`count` terminals, as many offices apart as possible: the first terminal of every office, then the second..."""
    by_slot: dict[str, list[FleetTerminal]] = {}
    for terminal in terminals:
        by_slot.setdefault(terminal.office_id, []).append(terminal)
    ordered = [
        office[slot]
        for slot in range(max(map(len, by_slot.values()), default=0))
        for office in by_slot.values()
        if slot < len(office)
    ]
    if count > len(ordered):
        raise ValueError(f"the fleet has {len(ordered)} terminals, {count} were asked for")
    return ordered[:count]
