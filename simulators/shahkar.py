"""Shahkar's mobile-ownership inquiry (gateway/identity/shahkar.py has the protocol), with scripted lines and fault
injection.

Run `python -m simulators.shahkar --port 0`: it prints `{"port": N}` once listening. Control API:
- `POST /control/lines` `{"identification_no", "mobile"}`: this line is registered to this identification (for a
  passport, `identification_no` is `<nationality>:<passport number>`); any other pair answers "not the owner";
- `POST /control/faults` `{"kind", "mobile"?, "count"?, ...}`: `slow_answer`, `timeout`, `http_5xx`, `malformed`,
  `throttle`, as the civil registry simulator;
- `GET /control/calls`: how many inquiries were answered or faulted;
- `POST /control/reset`: forgets lines, calls and faults.

With `--population` (the benchmark's load) every line is registered to whoever asks about it.
"""

from __future__ import annotations

import argparse

from aiohttp import encode_basic_auth, web

from simulators.http_faults import FaultBook, add_control_routes, reply_with_fault, serve

FAULT_KINDS = ("slow_answer", "timeout", "http_5xx", "malformed", "throttle")
PASSPORT = 1


class Lines:
    def __init__(self, population: bool) -> None:
        self.population = population
        self.faults = FaultBook(FAULT_KINDS, target_field="mobile")
        self.reset()

    def reset(self) -> None:
        self.owned: set[tuple[str, str]] = set()
        self.calls = 0


DEMO_LINE = ("0012345679", "09121234567")  # the demo recipient of `make run` (README), known with --demo


def create_app(
    username: str = "pishkhan", password: str = "pishkhan", *, demo: bool = False, population: bool = False
) -> web.Application:
    lines = Lines(population)
    if demo:
        lines.owned.add(DEMO_LINE)
    app = web.Application()
    expected = encode_basic_auth(username, password)

    async def inquiry(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            return web.json_response({"response": 401, "result": "unauthorized"}, status=401)
        body = await request.json()
        lines.calls += 1
        fault = lines.faults.take(FAULT_KINDS, [str(body.get("serviceNumber"))])
        return await reply_with_fault(fault, lambda: _ownership_answer(lines, body))

    async def add_line(request: web.Request) -> web.Response:
        line = await request.json()
        lines.owned.add((line["identification_no"], line["mobile"]))
        return web.json_response(line, status=201)

    async def calls(request: web.Request) -> web.Response:
        return web.json_response({"inquiries": lines.calls})

    app.router.add_post("/api/v1/shahkar/inquiry", inquiry)
    app.router.add_post("/control/lines", add_line)
    app.router.add_get("/control/calls", calls)
    add_control_routes(app, lines.faults, lines.reset)
    return app


def _ownership_answer(lines: Lines, body: dict) -> web.Response:
    identification = str(body.get("identificationNo"))
    if body.get("identificationType") == PASSPORT:
        identification = f"{body.get('nationality')}:{identification}"
    request_id = body.get("requestId")
    if body.get("serviceType") != 2 or not isinstance(request_id, str):
        return web.json_response({"requestId": request_id, "response": 400, "result": "bad request"}, status=400)
    if lines.population or (identification, body.get("serviceNumber")) in lines.owned:
        return web.json_response({"requestId": request_id, "response": 200, "result": "OK."})
    comment = "service number is not registered to this identification"
    return web.json_response({"requestId": request_id, "response": 600, "result": "NOK", "comment": comment})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Shahkar mobile ownership simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9304, help="0 binds a free port")
    parser.add_argument("--username", default="pishkhan")
    parser.add_argument("--password", default="pishkhan")
    parser.add_argument("--demo", action="store_true", help="know the demo recipient's line of make run")
    parser.add_argument("--population", action="store_true", help="for load: every line is its asker's")
    args = parser.parse_args(argv)
    serve(create_app(args.username, args.password, demo=args.demo, population=args.population), args.host, args.port)


if __name__ == "__main__":
    main()
