"""A request body must come in a media type its route's OpenAPI operation declares; anything else is 415.

The published document is the single statement of what each route accepts, so the check reads it instead of
repeating it route by route (a POST of JSON sent as text/plain is refused, not parsed).
"""

from __future__ import annotations

from functools import cache

from aiohttp import web

from gateway.core.errors import UnsupportedMediaType
from gateway.web.openapi import openapi_document


@cache
def declared_body_types(method: str, path: str) -> frozenset[str]:
    """The media types the operation's requestBody declares (empty when it takes no body)."""
    operation = openapi_document()["paths"].get(path, {}).get(method.lower(), {})
    return frozenset(operation.get("requestBody", {}).get("content", {}))


@web.middleware
async def media_type_middleware(request: web.Request, handler):
    resource = request.match_info.route.resource
    if resource is not None:
        accepted = declared_body_types(request.method, resource.canonical)
        if accepted and request.content_type not in accepted:
            raise UnsupportedMediaType(
                f"Send the body as {' or '.join(sorted(accepted))} (with that Content-Type header).",
                param="Content-Type",
                details={"accepted": sorted(accepted)},
            )
    return await handler(request)
