"""The simulated PSP host's control API (JSON over HTTP), for tests and the dev runner.

    GET  /healthz                               {"status": "ok", "psp_id": "...", "protocol": "..."}
    GET  /ledger[?reference=]                   {"entries": [...]}
    POST /terminals/{terminal_id}/script        {"outcomes": ["approve", "decline:51", "cancel", "no_answer", ...]}
    POST /terminals/{terminal_id}/pin-delay     {"ms": 3000}
    POST /cardholders/finish                    {"over_ms": 0}: every cardholder still entering a PIN finishes,
                                                 in the order they began, spread over over_ms → {"finished": n}
    GET  /faults                                {"faults": [...] still to be injected, "host_down": false}
    POST /faults                                {"terminal_id": null|"...", "kind": "...", "count": 1,
                                                 "operation": null|"purchase"|"verify"|"settle"|"reverse"|"inquiry",
                                                 "delay_ms": 0}; kinds in `faults.FaultKind`, or
                                                {"kind": "host_down", "delay_ms": 0}: the whole host is down for
                                                delay_ms (0: until DELETE /faults or POST /reset)
    DELETE /faults                              forget the faults and bring a down host back up
    POST /reset                                 forget the ledger, terminal settings, faults and registered requests
    POST /tokens/revoke                         pcpos-http only: every access token stops working → {"revoked": n}
    POST /daily-files                           the day's settlement file or terminal feed (`daily_files`)
A body that does not fit answers 400 {"error": "..."}.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from simulators.psp.cards import parse_answer
from simulators.psp.daily_files import daily_file_handler
from simulators.psp.front_end import FrontEnd, Outage
from simulators.psp.host_rules import PspHost

HOST_DOWN = "host_down"

_HOST = web.AppKey("host", PspHost)
_FRONT_END = web.AppKey("front_end", FrontEnd)
_OUTAGE = web.AppKey("outage", Outage)


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
    return _json({"status": "ok", "psp_id": request.app[_HOST].psp_id, "protocol": request.app[_FRONT_END].protocol})


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


async def finish_pin_entry(request: web.Request) -> web.Response:
    over_ms = (await _body(request)).get("over_ms", 0)
    if not isinstance(over_ms, int) or over_ms < 0:
        raise ValueError("over_ms must be a non-negative integer")
    return _json({"finished": request.app[_HOST].fleet.finish_pin_entry(over_ms / 1000)})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"faults": request.app[_HOST].faults.pending(), "host_down": request.app[_OUTAGE].active})


async def add_fault(request: web.Request) -> web.Response:
    body = await _body(request)
    delay_ms = int(body.get("delay_ms", 0))
    if body["kind"] == HOST_DOWN:
        if body.get("terminal_id") is not None or body.get("operation") is not None or delay_ms < 0:
            raise ValueError("host_down takes the whole host down: no terminal_id or operation, delay_ms >= 0")
        await request.app[_OUTAGE].begin(delay_ms / 1000 or None)
        return _json({"host_down": True, "delay_ms": delay_ms}, status=201)
    fault = request.app[_HOST].faults.add(
        body["kind"],
        terminal_id=body.get("terminal_id"),
        operation=body.get("operation"),
        count=int(body.get("count", 1)),
        delay_ms=delay_ms,
    )
    return _json({"fault_id": fault.fault_id}, status=201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[_HOST].faults.clear()
    await request.app[_OUTAGE].end()
    return _json({"faults": [], "host_down": False})


async def reset(request: web.Request) -> web.Response:
    request.app[_HOST].reset()
    request.app[_FRONT_END].reset()
    await request.app[_OUTAGE].end()
    return _json({"status": "reset"})


def build_control_app(host: PspHost, front_end: FrontEnd, outage: Outage) -> web.Application:
    app = web.Application(middlewares=[_bad_request_as_json])
    app[_HOST] = host
    app[_FRONT_END] = front_end
    app[_OUTAGE] = outage
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ledger", ledger)
    app.router.add_post("/terminals/{terminal_id}/script", script)
    app.router.add_post("/terminals/{terminal_id}/pin-delay", pin_delay)
    app.router.add_post("/cardholders/finish", finish_pin_entry)
    app.router.add_get("/faults", list_faults)
    app.router.add_post("/faults", add_fault)
    app.router.add_delete("/faults", clear_faults)
    app.router.add_post("/reset", reset)
    app.router.add_post("/daily-files", daily_file_handler(host.psp_id, host.ledger))
    app.router.add_routes(front_end.control_routes())
    return app
