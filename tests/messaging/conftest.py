"""The SMS centre and Iran Poosheh simulators as real subprocesses, one each for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.messaging.support import DELIVERY_DELAY, SimulatorControl, start_process, stop_process


@pytest.fixture(scope="session")
def sms_centre_url() -> Iterator[str]:
    process, url = start_process("simulators.sms_centre", "--delivery-delay", str(DELIVERY_DELAY))
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
def poosheh_url() -> Iterator[str]:
    process, url = start_process("simulators.poosheh_inbox")
    yield url
    stop_process(process)


@pytest.fixture
async def sms_centre(control_session, sms_centre_url) -> SimulatorControl:
    control = SimulatorControl(control_session, sms_centre_url)
    await control.reset()
    return control


@pytest.fixture
async def inbox(control_session, poosheh_url) -> SimulatorControl:
    control = SimulatorControl(control_session, poosheh_url)
    await control.reset()
    return control
