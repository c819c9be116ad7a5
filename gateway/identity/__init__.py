"""Who the recipient is: the identity inquiry made before a card is pushed (docs/identity.md).

One adapter per provider protocol behind `base.IdentityAdapter`: the civil registry's person inquiry through a KYC
provider (`civil_registry.py`) and Shahkar's mobile ownership (`shahkar.py`); `inquiry.py` asks them at once, with a
timeout, a circuit breaker per service and a Redis cache.
"""

from __future__ import annotations

from gateway.identity.base import IdentityAdapter, Subject
from gateway.identity.civil_registry import CivilRegistryInquiry
from gateway.identity.inquiry import IdentityInquiry
from gateway.identity.shahkar import ShahkarInquiry
from gateway.platform.config import Settings

__all__ = [
    "CivilRegistryInquiry",
    "IdentityAdapter",
    "IdentityInquiry",
    "ShahkarInquiry",
    "Subject",
    "inquiry_from_settings",
]


def inquiry_from_settings(settings: Settings, redis) -> IdentityInquiry:
    timeout = settings.identity_timeout_s
    adapters: list[IdentityAdapter] = [
        CivilRegistryInquiry(
            settings.civil_registry_url,
            settings.civil_registry_client_id,
            settings.civil_registry_client_secret,
            timeout,
        ),
        ShahkarInquiry(settings.shahkar_url, settings.shahkar_username, settings.shahkar_password, timeout),
    ]
    return IdentityInquiry(
        adapters,
        redis,
        timeout=timeout,
        cache_ttl_s=settings.identity_cache_ttl_s,
        cache_key=settings.identity_cache_key.encode(),
        breaker_threshold=settings.identity_breaker_failures,
        breaker_open_s=settings.identity_breaker_open_s,
    )
