"""Messages to the service recipient: the confirmation SMS through Payam Iran (or a configured commercial provider)
from the agency's 4040 line or text mask, and the Iran Poosheh inbox."""

from __future__ import annotations

from collections.abc import Callable

from gateway.messaging.kavenegar import KavenegarProvider
from gateway.messaging.magfa import MagfaProvider
from gateway.messaging.payam_iran import PayamIranProvider
from gateway.messaging.poosheh import Authenticity, AuthenticityVerdict, InboxDelivery, PooshehInbox
from gateway.messaging.sms_providers import (
    DeliveryStatus,
    OutgoingSms,
    SendOutcome,
    SendResult,
    SmsProvider,
    provider_uid,
    require_4040_line,
)
from gateway.messaging.sms_text import MAX_PARTS, count_parts, render_confirmation, verify_link

_PROVIDERS: dict[str, Callable[[str, dict[str, str], float], SmsProvider]] = {
    PayamIranProvider.kind: PayamIranProvider,
    MagfaProvider.kind: MagfaProvider,
    KavenegarProvider.kind: KavenegarProvider,
}


def create_sms_provider(kind: str, base_url: str, credentials: dict, timeout: float) -> SmsProvider:
    """The adapter for `kind` ("payam_iran": token; "magfa": username, domain, password; "kavenegar": api_key)."""
    try:
        provider = _PROVIDERS[kind]
    except KeyError:
        raise ValueError(f"unknown SMS provider {kind!r}; known: {', '.join(sorted(_PROVIDERS))}") from None
    return provider(base_url, credentials, timeout)


__all__ = [
    "MAX_PARTS",
    "Authenticity",
    "AuthenticityVerdict",
    "DeliveryStatus",
    "InboxDelivery",
    "KavenegarProvider",
    "MagfaProvider",
    "OutgoingSms",
    "PayamIranProvider",
    "PooshehInbox",
    "SendOutcome",
    "SendResult",
    "SmsProvider",
    "count_parts",
    "create_sms_provider",
    "provider_uid",
    "render_confirmation",
    "require_4040_line",
    "verify_link",
]
