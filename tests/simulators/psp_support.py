"""Running the PSP host simulator as a real subprocess, driving its control API, and fresh purchase data."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from gateway.core.psp import PspCapabilities, PspReply, PurchaseRequest, SettlementRow, TxnRef

PROJECT_ROOT = Path(__file__).resolve().parents[2]


# The port line's key for each protocol.
PORT_KEYS = {"iso8583-tcp": "iso_port", "pcpos-http": "http_port"}


@dataclass(frozen=True)
class SimulatedHost:
    process: subprocess.Popen
    protocol: str
    port: int  # the PSP protocol's port
    control_port: int

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def start_simulator(*args: str) -> SimulatedHost:
    """Starts `psp_host` with the given options (free ports unless told otherwise) and reads its port line."""
    command = [
        sys.executable,
        "-m",
        "simulators.psp.psp_host",
        "--port",
        "0",
        "--control-port",
        "0",
        "--log-level",
        "WARNING",
        *args,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the PSP host simulator exited with {process.wait()} before printing its ports")
    ports = json.loads(line)
    protocol = next(protocol for protocol, key in PORT_KEYS.items() if key in ports)
    return SimulatedHost(process, protocol, ports[PORT_KEYS[protocol]], ports["control_port"])


class SimulatorControl:
    def __init__(self, host: SimulatedHost, session: aiohttp.ClientSession) -> None:
        self._url = host.control_url
        self._session = session

    async def _post(self, path: str, body: dict) -> dict:
        async with self._session.post(self._url + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def script(self, terminal_id: str, *outcomes: str) -> None:
        await self._post(f"/terminals/{terminal_id}/script", {"outcomes": list(outcomes)})

    async def pin_delay(self, terminal_id: str, ms: int) -> None:
        await self._post(f"/terminals/{terminal_id}/pin-delay", {"ms": ms})

    async def finish_pin_entry(self, over_ms: int = 0) -> int:
        return (await self._post("/cardholders/finish", {"over_ms": over_ms}))["finished"]

    async def fault(self, kind: str, terminal_id: str | None = None, **options: object) -> None:
        await self._post("/faults", {"kind": kind, "terminal_id": terminal_id, **options})

    async def host_down(self, delay_ms: int = 0) -> None:
        await self._post("/faults", {"kind": "host_down", "delay_ms": delay_ms})

    async def clear_faults(self) -> None:
        async with self._session.delete(self._url + "/faults") as response:
            response.raise_for_status()

    async def ledger(self, reference: str | None = None) -> list[dict]:
        params = {"reference": reference} if reference else {}
        async with self._session.get(self._url + "/ledger", params=params) as response:
            response.raise_for_status()
            return (await response.json())["entries"]

    async def entry(self, reference: str) -> dict:
        (entry,) = await self.ledger(reference)
        return entry


ALREADY_VERIFIED = "94"  # the simulator's default
CAPABILITIES = PspCapabilities(
    verify_deadline=timedelta(minutes=20),
    settle_is_separate=True,
    already_verified_codes=frozenset({ALREADY_VERIFIED}),
    reversal_window=timedelta(minutes=30),
    split_row_limit=10,
)

# Two valid شبا numbers (IR + ISO 7064 mod 97-10 check digits + 22 digits).
AGENCY_IBAN = "IR110170000000123456789001"
OFFICE_IBAN = "IR210120000000009876543210"

_terminal_numbers = itertools.count(70_000_001)
_stans = itertools.count(1)


def new_terminal_id() -> str:
    """A terminal no other test uses, so scripts and pin delays never leak between tests."""
    return str(next(_terminal_numbers))


def new_purchase(terminal_id: str | None = None, amount: int = 1_250_000, stan: str | None = None) -> PurchaseRequest:
    government_share = amount * 4 // 5
    return PurchaseRequest(
        terminal_id=terminal_id or new_terminal_id(),
        merchant_id="000000123456789",
        amount=amount,
        stan=stan or f"{next(_stans) % 1_000_000:06d}",
        reference=f"chg-{uuid.uuid4().hex}",
        transmitted_at=datetime.now(UTC),
        settlement_rows=(
            SettlementRow(AGENCY_IBAN, government_share, "1101004567"),
            SettlementRow(OFFICE_IBAN, amount - government_share, "0"),
        ),
        print_lines=("دفتر پیشخوان خدمات دولت ۱۲۳", "مبلغ: ۱۲۵٬۰۰۰ تومان"),
    )


def txn_ref(request: PurchaseRequest, reply: PspReply | None = None) -> TxnRef:
    return TxnRef(
        terminal_id=request.terminal_id,
        merchant_id=request.merchant_id,
        stan=request.stan,
        amount=request.amount,
        reference=request.reference,
        transmitted_at=request.transmitted_at,
        rrn=reply.rrn if reply else None,
    )
