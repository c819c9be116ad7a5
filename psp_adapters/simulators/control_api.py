"""The simulated PSP host's control API (JSON over HTTP), for tests and the dev runner.

    GET  /healthz
    GET  /ledger[?reference=]                   {"entries": [...]}
    POST /terminals/{terminal_id}/script        {"outcomes": ["approve", "decline:51", "cancel", "no_answer", ...]}
    POST /terminals/{terminal_id}/pin-delay     {"ms": 3000}
    GET  /faults                                {"faults": [...]} still to be injected
    POST /faults                                {"terminal_id": null|"...", "kind": "...", "count": 1,
                                                 "mti": null|"0200", "delay_ms": 0}; kinds in `faults.FaultKind`
    DELETE /faults
    POST /reset                                 forget the ledger, terminal settings and faults
A body that does not fit answers 400 {"error": "..."}.
"""
from __future__ import annotations

import orjson
from aiohttp import web

from psp_adapters.simulators.cards import parse_answer
from psp_adapters.simulators.iso_host import PspHost

_HOST = web.AppKey("host", PspHost)


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda value: orjson.dumps(value).decode())


@web.middleware
async def _bad_request_as_json(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (ValueError, KeyError, TypeError) as error:
        return _json({"error": f"{type(error).__name__}: {error}"}, status=400)


async def _body(request: web.Request) -> dict:
    body = await request.json(loads=orjson.loads)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok", "psp_id": request.app[_HOST].psp_id})


async def ledger(request: web.Request) -> web.Response:
    return _json({"entries": request.app[_HOST].ledger.entries(request.query.get("reference"))})


async def script(request: web.Request) -> web.Response:
    outcomes = (await _body(request))["outcomes"]
    if not isinstance(outcomes, list):
        raise ValueError("outcomes must be a list")
    terminal_id = request.match_info["terminal_id"]
    request.app[_HOST].fleet.script(terminal_id, [parse_answer(outcome) for outcome in outcomes])
    return _json({"terminal_id": terminal_id, "outcomes": outcomes})


async def pin_delay(request: web.Request) -> web.Response:
    ms = (await _body(request))["ms"]
    if not isinstance(ms, int) or ms < 0:
        raise ValueError("ms must be a non-negative integer")
    terminal_id = request.match_info["terminal_id"]
    request.app[_HOST].fleet.set_pin_delay(terminal_id, ms)
    return _json({"terminal_id": terminal_id, "ms": ms})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"faults": request.app[_HOST].faults.pending()})


async def add_fault(request: web.Request) -> web.Response:
    body = await _body(request)
    fault = request.app[_HOST].faults.add(
        body["kind"], terminal_id=body.get("terminal_id"), mti=body.get("mti"),
        count=int(body.get("count", 1)), delay_ms=int(body.get("delay_ms", 0)))
    return _json({"fault_id": fault.fault_id}, status=201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[_HOST].faults.clear()
    return _json({"faults": []})


async def reset(request: web.Request) -> web.Response:
    host = request.app[_HOST]
    host.ledger.reset()
    host.fleet.reset()
    host.faults.clear()
    return _json({"status": "reset"})


def build_control_app(host: PspHost) -> web.Application:
    app = web.Application(middlewares=[_bad_request_as_json])
    app[_HOST] = host
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ledger", ledger)
    app.router.add_post("/terminals/{terminal_id}/script", script)
    app.router.add_post("/terminals/{terminal_id}/pin-delay", pin_delay)
    app.router.add_get("/faults", list_faults)
    app.router.add_post("/faults", add_fault)
    app.router.add_delete("/faults", clear_faults)
    app.router.add_post("/reset", reset)
    return app
