"""One long-lived adapter per PSP, created from the registry and the configured endpoint overrides."""

from __future__ import annotations

from gateway.core.registry import Registry
from psp_adapters.base import PspAdapter
from psp_adapters.registry import create_adapter


class PspPool:
    def __init__(
        self, *, timeout: float, purchase_timeout: float, endpoint_overrides: dict[str, tuple[str, int]]
    ) -> None:
        self.timeout = timeout
        self.purchase_timeout = purchase_timeout
        self.endpoint_overrides = endpoint_overrides
        self._adapters: dict[str, tuple[tuple, PspAdapter]] = {}

    def sync(self, registry: Registry) -> None:
        """Creates adapters for new PSPs and replaces those whose protocol, endpoint or capabilities changed."""
        for psp in registry.psps.values():
            endpoint = dict(psp.endpoint, purchase_timeout=self.purchase_timeout)
            if psp.id in self.endpoint_overrides:
                endpoint["host"], endpoint["port"] = self.endpoint_overrides[psp.id]
            identity = (psp.protocol, tuple(sorted(endpoint.items())), psp.capabilities)
            current = self._adapters.get(psp.id)
            if current is None or current[0] != identity:
                adapter = create_adapter(psp.id, psp.protocol, endpoint, psp.capabilities, self.timeout)
                self._adapters[psp.id] = (identity, adapter)

    def adapter(self, psp_id: str) -> PspAdapter:
        return self._adapters[psp_id][1]

    async def close(self) -> None:
        for _, adapter in self._adapters.values():
            await adapter.close()
