"""Settings, read once from environment variables. Every variable has a documented default (README)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Written by `pishkhan dev run` (make run) while it runs: its servers' addresses, for commands run beside it.
DEV_STACK_ENV = PROJECT_ROOT / "var" / "dev" / "stack.env"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", ""))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    redis_cluster: bool = field(default_factory=lambda: _env("PISHKHAN_REDIS_CLUSTER", "0") == "1")
    host: str = field(default_factory=lambda: _env("PISHKHAN_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PISHKHAN_PORT", "8080")))
    workers: int = field(default_factory=lambda: int(_env("PISHKHAN_WORKERS", "1")))
    db_pool_size: int = field(default_factory=lambda: int(_env("PISHKHAN_DB_POOL_SIZE", "10")))
    # A streaming replica for the reads that may lag (docs/scaling.md); empty: every read goes to the primary.
    database_replica_url: str = field(default_factory=lambda: _env("DATABASE_REPLICA_URL", ""))
    registry_path: Path = field(
        default_factory=lambda: Path(
            _env("PISHKHAN_REGISTRY", str(PROJECT_ROOT / "gateway" / "registry" / "demo.toml"))
        )
    )
    tariff_dir: Path = field(
        default_factory=lambda: Path(_env("PISHKHAN_TARIFF_DIR", str(PROJECT_ROOT / "tariff_tables")))
    )
    key_dir: Path = field(default_factory=lambda: Path(_env("PISHKHAN_KEY_DIR", str(PROJECT_ROOT / "var" / "keys"))))
    psp_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_PSP_TIMEOUT_S", "5")))
    purchase_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_PURCHASE_TIMEOUT_S", "90")))
    # PSP host addresses override the registry's, as "psp-id=host:port,psp-id=host:port".
    psp_endpoints: str = field(default_factory=lambda: _env("PISHKHAN_PSP_ENDPOINTS", ""))
    recovery_interval_s: float = field(default_factory=lambda: float(_env("PISHKHAN_RECOVERY_INTERVAL_S", "2")))
    recovery_grace_s: float = field(default_factory=lambda: float(_env("PISHKHAN_RECOVERY_GRACE_S", "120")))
    registry_refresh_s: float = field(default_factory=lambda: float(_env("PISHKHAN_REGISTRY_REFRESH_S", "5")))
    run_workers: bool = field(default_factory=lambda: _env("PISHKHAN_RUN_WORKERS", "1") == "1")
    public_base_url: str = field(default_factory=lambda: _env("PISHKHAN_PUBLIC_BASE_URL", "http://127.0.0.1:8080"))
    receipt_font: Path = field(
        default_factory=lambda: Path(_env("PISHKHAN_RECEIPT_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    )
    log_level: str = field(default_factory=lambda: _env("PISHKHAN_LOG_LEVEL", "INFO"))
    # Oversight (docs/oversight.md): charges of one recipient for one service completed within this many seconds
    # may together take at most one cap; detection runs this often, re-reading this many seconds of PSP feed rows
    # before its last reach (long imports commit late); the penalty rules file holds the yearly cap and its
    # inflation index series.
    split_window_s: float = field(default_factory=lambda: float(_env("PISHKHAN_SPLIT_WINDOW_S", "1800")))
    oversight_interval_s: float = field(default_factory=lambda: float(_env("PISHKHAN_OVERSIGHT_INTERVAL_S", "30")))
    oversight_rescan_s: float = field(default_factory=lambda: float(_env("PISHKHAN_OVERSIGHT_RESCAN_S", "600")))
    oversight_commit_margin_s: float = field(
        default_factory=lambda: float(_env("PISHKHAN_OVERSIGHT_COMMIT_MARGIN_S", "60"))
    )
    penalty_rules_path: Path = field(
        default_factory=lambda: Path(
            _env("PISHKHAN_PENALTY_RULES", str(PROJECT_ROOT / "gateway" / "oversight" / "penalty_rules.toml"))
        )
    )
    # Messaging: the SMS provider ("payam_iran", the government's channel; or "magfa" or "kavenegar") and the Iran
    # Poosheh inbox; the defaults reach the simulators `make run` starts. Payam Iran uses the agency token,
    # Magfa username, domain and password, Kavenegar the API key.
    sms_provider: str = field(default_factory=lambda: _env("PISHKHAN_SMS_PROVIDER", "payam_iran"))
    sms_url: str = field(default_factory=lambda: _env("PISHKHAN_SMS_URL", "http://127.0.0.1:9301"))
    sms_username: str = field(default_factory=lambda: _env("PISHKHAN_SMS_USERNAME", "pishkhan"))
    sms_domain: str = field(default_factory=lambda: _env("PISHKHAN_SMS_DOMAIN", "pishkhan"))
    sms_password: str = field(default_factory=lambda: _env("PISHKHAN_SMS_PASSWORD", "pishkhan"))
    sms_api_key: str = field(default_factory=lambda: _env("PISHKHAN_SMS_API_KEY", "pishkhan"))
    sms_token: str = field(default_factory=lambda: _env("PISHKHAN_SMS_TOKEN", "pishkhan"))
    poosheh_url: str = field(default_factory=lambda: _env("PISHKHAN_POOSHEH_URL", "http://127.0.0.1:9302"))
    poosheh_token: str = field(default_factory=lambda: _env("PISHKHAN_POOSHEH_TOKEN", "pishkhan"))
    messaging_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_MESSAGING_TIMEOUT_S", "10")))
    # The outbox dispatcher: rows per claim, attempts before the dead letter, how long a claim is held (longer than
    # the messaging timeout), the first retry delay (doubling, with jitter), and how often it looks for due rows.
    outbox_batch: int = field(default_factory=lambda: int(_env("PISHKHAN_OUTBOX_BATCH", "200")))
    outbox_max_attempts: int = field(default_factory=lambda: int(_env("PISHKHAN_OUTBOX_MAX_ATTEMPTS", "15")))
    outbox_lease_s: float = field(default_factory=lambda: float(_env("PISHKHAN_OUTBOX_LEASE_S", "60")))
    outbox_retry_base_s: float = field(default_factory=lambda: float(_env("PISHKHAN_OUTBOX_RETRY_BASE_S", "2")))
    outbox_interval_s: float = field(default_factory=lambda: float(_env("PISHKHAN_OUTBOX_INTERVAL_S", "0.5")))
    # Seconds between delivery-report polls of an accepted SMS.
    delivery_poll_s: float = field(default_factory=lambda: float(_env("PISHKHAN_DELIVERY_POLL_S", "30")))
    # Requests a minute per API key, and per terminal across all its keys (0 turns a limit off).
    rate_limit_per_minute: int = field(default_factory=lambda: int(_env("PISHKHAN_RATE_LIMIT_PER_MINUTE", "1200")))
    terminal_rate_limit_per_minute: int = field(
        default_factory=lambda: int(_env("PISHKHAN_TERMINAL_RATE_LIMIT_PER_MINUTE", "600"))
    )
    redis_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_REDIS_TIMEOUT_S", "2")))
    # Identity inquiry (docs/identity.md): the civil registry's KYC provider and Shahkar (the defaults reach the
    # simulators `make run` starts), the time one inquiry may take, how long an answer is cached (at most a day),
    # the key of the cache's digests, and each service's circuit breaker (failures in a row, seconds open).
    civil_registry_url: str = field(
        default_factory=lambda: _env("PISHKHAN_CIVIL_REGISTRY_URL", "http://127.0.0.1:9303")
    )
    civil_registry_client_id: str = field(default_factory=lambda: _env("PISHKHAN_CIVIL_REGISTRY_CLIENT_ID", "pishkhan"))
    civil_registry_client_secret: str = field(
        default_factory=lambda: _env("PISHKHAN_CIVIL_REGISTRY_CLIENT_SECRET", "pishkhan")
    )
    shahkar_url: str = field(default_factory=lambda: _env("PISHKHAN_SHAHKAR_URL", "http://127.0.0.1:9304"))
    shahkar_username: str = field(default_factory=lambda: _env("PISHKHAN_SHAHKAR_USERNAME", "pishkhan"))
    shahkar_password: str = field(default_factory=lambda: _env("PISHKHAN_SHAHKAR_PASSWORD", "pishkhan"))
    identity_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_IDENTITY_TIMEOUT_S", "2")))
    identity_cache_ttl_s: int = field(default_factory=lambda: int(_env("PISHKHAN_IDENTITY_CACHE_TTL_S", "3600")))
    identity_cache_key: str = field(default_factory=lambda: _env("PISHKHAN_IDENTITY_CACHE_KEY", "development only"))
    identity_breaker_failures: int = field(default_factory=lambda: int(_env("PISHKHAN_IDENTITY_BREAKER_FAILURES", "5")))
    identity_breaker_open_s: float = field(
        default_factory=lambda: float(_env("PISHKHAN_IDENTITY_BREAKER_OPEN_S", "30"))
    )
    # Integrity: the approving bodies' public keys that tariff approvals must be signed with, and how often the
    # regulator access log's chain head is signed.
    approver_keys: Path = field(
        default_factory=lambda: Path(_env("PISHKHAN_APPROVER_KEYS", str(PROJECT_ROOT / "var" / "approver-keys.json")))
    )
    access_log_sign_interval_s: float = field(
        default_factory=lambda: float(_env("PISHKHAN_ACCESS_LOG_SIGN_INTERVAL_S", "86400"))
    )
    # The edge: how long a request body may take to arrive (408 after), and the per-address limit of the routes that
    # take no key, with the proxies whose X-Forwarded-For names the client.
    body_timeout_s: float = field(default_factory=lambda: float(_env("PISHKHAN_BODY_TIMEOUT_S", "15")))
    public_rate_limit_per_minute: int = field(
        default_factory=lambda: int(_env("PISHKHAN_PUBLIC_RATE_LIMIT_PER_MINUTE", "120"))
    )
    trusted_proxies: str = field(default_factory=lambda: _env("PISHKHAN_TRUSTED_PROXIES", ""))

    # People's sign-in (docs/security.md): a session ends after this many seconds without a request, and this many
    # after it began whatever the activity; this many failed attempts in a row lock an account for this long.
    session_idle_s: int = field(default_factory=lambda: int(_env("PISHKHAN_SESSION_IDLE_S", "900")))
    session_absolute_s: int = field(default_factory=lambda: int(_env("PISHKHAN_SESSION_ABSOLUTE_S", "28800")))
    signin_max_failures: int = field(default_factory=lambda: int(_env("PISHKHAN_SIGNIN_MAX_FAILURES", "5")))
    signin_lockout_s: int = field(default_factory=lambda: int(_env("PISHKHAN_SIGNIN_LOCKOUT_S", "900")))

    # Monthly partitions (docs/scaling.md): how many months ahead the background pass keeps created, how often it
    # looks, and how many whole months `pishkhan partitions export-and-detach` keeps in the database.
    partition_months_ahead: int = field(default_factory=lambda: int(_env("PISHKHAN_PARTITION_MONTHS_AHEAD", "3")))
    partition_interval_s: float = field(default_factory=lambda: float(_env("PISHKHAN_PARTITION_INTERVAL_S", "3600")))
    retention_months: int = field(default_factory=lambda: int(_env("PISHKHAN_RETENTION_MONTHS", "60")))

    def sms_credentials(self) -> dict[str, str]:
        """The credentials the chosen SMS provider's adapter takes."""
        if self.sms_provider == "payam_iran":
            return {"token": self.sms_token}
        if self.sms_provider == "kavenegar":
            return {"api_key": self.sms_api_key}
        return {"username": self.sms_username, "domain": self.sms_domain, "password": self.sms_password}

    def psp_endpoint_overrides(self) -> dict[str, tuple[str, int]]:
        overrides: dict[str, tuple[str, int]] = {}
        for item in filter(None, (part.strip() for part in self.psp_endpoints.split(","))):
            psp_id, _, address = item.partition("=")
            host, _, port = address.rpartition(":")
            overrides[psp_id] = (host, int(port))
        return overrides


def load_settings() -> Settings:
    return Settings()
