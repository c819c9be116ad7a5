"""Typed keys for what the app holds, and the small helpers every route uses."""
from __future__ import annotations

from aiohttp import web

from gateway.api_keys import Principal

SERVICES = web.AppKey("services", object)


def services(request: web.Request):
    return request.app[SERVICES]


async def principal(request: web.Request) -> Principal:
    return await services(request).auth.principal(request)
