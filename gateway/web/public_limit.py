"""The routes anyone may call without a key (receipt verification, tariffs, signing keys), limited per client
address: PISHKHAN_PUBLIC_RATE_LIMIT_PER_MINUTE (0 turns it off), counted in the same Redis windows as the key
limits. Behind a proxy listed in PISHKHAN_TRUSTED_PROXIES, the client is the right-most X-Forwarded-For address
that is not one of those proxies; a header from anyone else is ignored, so a client cannot pick its own address."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from gateway.web.context import services

# Monitoring's routes: reachable only from the monitoring network (docs/security.md), never limited.
_UNLIMITED = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


def client_address(request: web.Request, trusted_proxies: str) -> str:
    trusted = {part.strip() for part in trusted_proxies.split(",") if part.strip()}
    address = request.remote or "unknown"
    if address not in trusted:
        return address
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address: everything left of it is the client's word
        if hop not in trusted:
            return hop
    return address


@web.middleware
async def public_rate_limit(request: web.Request, handler):
    static_file = isinstance(request.match_info.route.resource, web.StaticResource)  # fonts and scripts of pages
    if "Authorization" not in request.headers and request.path not in _UNLIMITED and not static_file:
        svc = services(request)
        await svc.auth.limiter.check_address(client_address(request, svc.settings.trusted_proxies))
    return await handler(request)
