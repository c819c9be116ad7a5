"""The registry and tariff book every request reads, held in memory and refreshed when a new version is loaded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from gateway.core.registry import Registry
from gateway.core.tariffs import TariffBook
from gateway.registry.store import loaded_versions, read_registry
from gateway.registry.tariff_approvals import NO_APPROVER_KEYS, ApprovalRefused, read_approver_keys
from gateway.registry.tariff_store import read_verified_book

log = logging.getLogger(__name__)


class RuntimeState:
    """`approver_keys`: the file of the approving bodies' public keys; a tariff version in which any approval fails
    its signature check is not taken (the previous book stays in force, and a gateway starting on it fails)."""

    def __init__(self, approver_keys: Path) -> None:
        self._approver_keys_path = approver_keys
        self.approvers = NO_APPROVER_KEYS
        self._registry: Registry | None = None
        self._tariffs: TariffBook | None = None
        self._versions: tuple[int, int] = (-1, -1)
        self.listeners: list[Callable[[Registry], None]] = []

    @property
    def loaded(self) -> bool:
        return self._registry is not None and self._tariffs is not None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            raise RuntimeError("the registry is not loaded yet")
        return self._registry

    @property
    def tariffs(self) -> TariffBook:
        if self._tariffs is None:
            raise RuntimeError("the tariffs are not loaded yet")
        return self._tariffs

    async def refresh(self, pool) -> bool:
        """Reloads when the registry or tariffs changed; returns True if anything was reloaded."""
        async with pool.acquire() as conn:
            versions = await loaded_versions(conn)
            if versions == self._versions:
                return False
            registry = await read_registry(conn)
            approvers = read_approver_keys(self._approver_keys_path)
            tariffs = await read_verified_book(conn, approvers)
        self._registry, self._tariffs, self._versions = registry, tariffs, versions
        self.approvers = approvers
        for listener in self.listeners:
            listener(registry)
        log.info("registry version %s and tariff version %s in force", *versions)
        return True

    async def keep_fresh(self, pool, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh(pool)
            except ApprovalRefused as refused:
                log.error("stored tariff approvals refused, the tariffs in force stay as they were: %s", refused)
            except Exception:
                log.exception("registry refresh failed; keeping the previous snapshot")
