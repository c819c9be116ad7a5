"""Settings, read once from environment variables. Every variable has a documented default (README)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", ""))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    host: str = field(default_factory=lambda: _env("PISHKHAN_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PISHKHAN_PORT", "8080")))
    workers: int = field(default_factory=lambda: int(_env("PISHKHAN_WORKERS", "1")))
    db_pool_size: int = field(default_factory=lambda: int(_env("PISHKHAN_DB_POOL_SIZE", "10")))
    registry_path: Path = field(default_factory=lambda: Path(_env(
        "PISHKHAN_REGISTRY", str(PROJECT_ROOT / "gateway" / "registry_data" / "demo.toml"))))
    tariff_dir: Path = field(default_factory=lambda: Path(_env(
        "PISHKHAN_TARIFF_DIR", str(PROJECT_ROOT / "tariff_tables"))))
    key_dir: Path = field(default_factory=lambda: Path(_env(
        "PISHKHAN_KEY_DIR", str(PROJECT_ROOT / "var" / "keys"))))
    psp_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_PSP_TIMEOUT_S", "5")))
    purchase_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_PURCHASE_TIMEOUT_S", "90")))
    # PSP host addresses override the registry's, as "psp-id=host:port,psp-id=host:port".
    psp_endpoints: str = field(default_factory=lambda: _env("PISHKHAN_PSP_ENDPOINTS", ""))
    recovery_interval_s: float = field(default_factory=lambda: float(_env("PISHKHAN_RECOVERY_INTERVAL_S", "2")))
    recovery_grace_s: float = field(default_factory=lambda: float(_env("PISHKHAN_RECOVERY_GRACE_S", "120")))
    registry_refresh_s: float = field(default_factory=lambda: float(_env("PISHKHAN_REGISTRY_REFRESH_S", "5")))
    run_workers: bool = field(default_factory=lambda: _env("PISHKHAN_RUN_WORKERS", "1") == "1")
    public_base_url: str = field(default_factory=lambda: _env("PISHKHAN_PUBLIC_BASE_URL", "http://127.0.0.1:8080"))
    receipt_font: Path = field(default_factory=lambda: Path(_env(
        "PISHKHAN_RECEIPT_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")))
    log_level: str = field(default_factory=lambda: _env("PISHKHAN_LOG_LEVEL", "INFO"))

    def psp_endpoint_overrides(self) -> dict[str, tuple[str, int]]:
        overrides: dict[str, tuple[str, int]] = {}
        for item in filter(None, (part.strip() for part in self.psp_endpoints.split(","))):
            psp_id, _, address = item.partition("=")
            host, _, port = address.rpartition(":")
            overrides[psp_id] = (host, int(port))
        return overrides


def load_settings() -> Settings:
    return Settings()
