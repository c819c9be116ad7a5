"""The adapters pointed at the civil registry and Shahkar simulators (tests/conftest.py starts them), and the
gateway of this folder's stack pointed at them too."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.identity import CivilRegistryInquiry, ShahkarInquiry

ADAPTER_TIMEOUT_S = 0.5


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
