"""The civil registry and Shahkar simulators as real subprocesses for the whole session, the adapters pointed at
them, and the gateway of this folder's stack pointed at them too."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import aiohttp
import pytest

from gateway.identity import CivilRegistryInquiry, ShahkarInquiry
from tests.identity.support import InquiryControl
from tests.messaging.support import start_process, stop_process

ADAPTER_TIMEOUT_S = 0.5


@pytest.fixture(scope="session")
def civil_registry_url() -> Iterator[str]:
    process, url = start_process("simulators.civil_registry")
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
def shahkar_url() -> Iterator[str]:
    process, url = start_process("simulators.shahkar")
    yield url
    stop_process(process)


@pytest.fixture(scope="session")
def settings(settings, civil_registry_url, shahkar_url):
    """The stack's settings with the gateway's identity inquiry pointed at this session's simulators."""
    return dataclasses.replace(
        settings,
        civil_registry_url=civil_registry_url,
        shahkar_url=shahkar_url,
        identity_timeout_s=ADAPTER_TIMEOUT_S,
        identity_breaker_failures=1000,
    )


@pytest.fixture(scope="session")
async def control_session() -> aiohttp.ClientSession:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


@pytest.fixture
async def registry(control_session, civil_registry_url) -> InquiryControl:
    control = InquiryControl(control_session, civil_registry_url)
    await control.reset()
    return control


@pytest.fixture
async def shahkar(control_session, shahkar_url) -> InquiryControl:
    control = InquiryControl(control_session, shahkar_url)
    await control.reset()
    return control


@pytest.fixture
async def civil_registry_adapter(civil_registry_url):
    adapter = CivilRegistryInquiry(civil_registry_url, "pishkhan", "pishkhan", ADAPTER_TIMEOUT_S)
    yield adapter
    await adapter.close()


@pytest.fixture
async def shahkar_adapter(shahkar_url):
    adapter = ShahkarInquiry(shahkar_url, "pishkhan", "pishkhan", ADAPTER_TIMEOUT_S)
    yield adapter
    await adapter.close()
