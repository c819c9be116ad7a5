"""Security tests share the whole-path fixtures, and add: a record of every log line written during the run (through
the same redaction the CLI installs), gateways served as real `pishkhan serve` processes, and the ordering that puts
the personal-data scan after every other test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.support import SCAN_MODULE, serve_gateway


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.path.name == SCAN_MODULE)


@pytest.fixture(scope="session")
def gateway_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gateway-logs")


@pytest.fixture(scope="session")
def served_gateway(settings, db, gateway_logs):
    """One long-lived gateway process with the rate limits off, for fuzzing and cross-process checks."""
    gateway = serve_gateway(
        settings,
        gateway_logs,
        PISHKHAN_RATE_LIMIT_PER_MINUTE="0",
        PISHKHAN_TERMINAL_RATE_LIMIT_PER_MINUTE="0",
        PISHKHAN_PUBLIC_RATE_LIMIT_PER_MINUTE="0",
    )
    yield gateway
    gateway.stop()
