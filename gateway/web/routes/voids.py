"""POST /v1/charges/{id}/void and GET /v1/charges/{id}/void."""

from __future__ import annotations

from aiohttp import web

from gateway.charging.void_store import VOIDS
from gateway.web.context import services
from gateway.web.routes import undo
from gateway.web.void_view import void_answer, void_view

routes = web.RouteTableDef()


@routes.post("/v1/charges/{charge_id}/void")
async def void_charge(request: web.Request) -> web.Response:
    return await undo.ask(request, "void", services(request).voids, void_answer)


@routes.get("/v1/charges/{charge_id}/void")
async def read_void(request: web.Request) -> web.Response:
    return await undo.read(request, "void", VOIDS.of_charge, void_view)
