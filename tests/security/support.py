"""What the tests of this folder share besides fixtures."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gateway.platform.config import PROJECT_ROOT, Settings
from gateway.platform.log_redaction import install_log_redaction
from simulators.devstack.embedded import free_port

SCAN_MODULE = "test_personal_data_scan.py"


class RecordedLog(logging.Handler):
    """Keeps every formatted log line of the test process, as a production handler would write it."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


# Attached when pytest imports this file, before the first test of the run, so every test's log lines are kept.
RECORDED_LOG = RecordedLog()


install_log_redaction([RECORDED_LOG])


logging.getLogger().addHandler(RECORDED_LOG)


if logging.getLogger().getEffectiveLevel() > logging.INFO:
    logging.getLogger().setLevel(logging.INFO)


# Log files of every gateway process started by these tests.
PROCESS_LOGS: list[Path] = []


@dataclass
class ServedGateway:
    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 40) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)


def _wait_ready(gateway: ServedGateway, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(
                f"pishkhan serve exited with {gateway.process.returncode}: "
                f"{gateway.log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            with urllib.request.urlopen(gateway.url + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    gateway.stop(signal.SIGKILL)
    raise RuntimeError("pishkhan serve did not become ready")


def serve_gateway(settings: Settings, log_dir: Path, **environment: str) -> ServedGateway:
    """`pishkhan serve` as its own process on a free port, against the test database, Redis and simulators."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "PISHKHAN_HOST": "127.0.0.1",
        "PISHKHAN_PORT": str(port),
        "PISHKHAN_KEY_DIR": str(settings.key_dir),
        "PISHKHAN_APPROVER_KEYS": str(settings.approver_keys),
        "PISHKHAN_PSP_ENDPOINTS": settings.psp_endpoints,
        "PISHKHAN_PSP_TIMEOUT_S": str(settings.psp_timeout_s),
        "PISHKHAN_PURCHASE_TIMEOUT_S": str(settings.purchase_timeout_s),
        "PISHKHAN_RUN_WORKERS": "0",
        "PISHKHAN_LOG_LEVEL": "INFO",
        **environment,
    }
    log_path = log_dir / f"gateway-{port}.log"
    PROCESS_LOGS.append(log_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = ServedGateway(process, f"http://127.0.0.1:{port}", log_path)
    _wait_ready(gateway)
    return gateway
