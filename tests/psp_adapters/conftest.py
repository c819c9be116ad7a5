"""Session fixtures: one PSP host simulator process and a client for its control API."""

from __future__ import annotations

import pytest

from tests.simulators.psp_support import SimulatorControl, start_simulator


@pytest.fixture(scope="session")
def psp_host():
    host = start_simulator("--psp-id", "psp-test")
    yield host
    host.stop()


@pytest.fixture(scope="session")
def simulator(psp_host, http_session) -> SimulatorControl:
    return SimulatorControl(psp_host, http_session)
