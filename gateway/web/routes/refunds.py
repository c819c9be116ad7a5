"""POST /v1/charges/{id}/refund and GET /v1/charges/{id}/refund."""

from __future__ import annotations

from aiohttp import web

from gateway.charging.refund_store import REFUNDS
from gateway.web.context import services
from gateway.web.refund_view import refund_answer, refund_view
from gateway.web.routes import undo

routes = web.RouteTableDef()


@routes.post("/v1/charges/{charge_id}/refund")
async def refund_charge(request: web.Request) -> web.Response:
    return await undo.ask(request, "refund", services(request).refunds, refund_answer)


@routes.get("/v1/charges/{charge_id}/refund")
async def read_refund(request: web.Request) -> web.Response:
    return await undo.read(request, "refund", REFUNDS.of_charge, refund_view)
