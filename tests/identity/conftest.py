"""The adapters pointed at the civil registry and Shahkar simulators (tests/conftest.py starts them), and the
gateway of this folder's stack pointed at them too."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.identity import CivilRegistryInquiry, ShahkarInquiry

ADAPTER_TIMEOUT_S = 0.5
TERMINAL = "10000001"
POLICIES = {"required": "2103", "advisory": "3103", "off": "1101"}  # gateway/registry/demo.toml


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


@pytest.fixture(scope="module")
async def caps(gateway, keys) -> dict[str, int]:
    """The cap of each policy's demo service, quoted for TERMINAL."""
    key = await keys(f"t:{TERMINAL}")
    found = {}
    for code in POLICIES.values():
        status, quote = await gateway.request("GET", f"/v1/tariffs/quote?service_code={code}", key=key)
        assert status == 200, quote
        found[code] = quote["cap"]
    return found
