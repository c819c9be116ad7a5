"""What both messaging simulators share: the fault book, the control routes, and serving on a port."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from gateway.platform.gc_pauses import freeze_survivors_of_full_passes

_FAULT_DEFAULTS = {"status": 503, "retry_after": 1, "hold_s": 30.0, "delay_s": 5.0}


@dataclass
class Fault:
    kind: str
    target: str | None  # a recipient or an inbox address; None for every one
    remaining: int
    params: dict = field(default_factory=dict)

    def param(self, name: str) -> float:
        return self.params.get(name, _FAULT_DEFAULTS[name])


class FaultBook:
    """Armed faults, used first-armed first, each for `count` matching requests."""

    def __init__(self, kinds: Iterable[str], target_field: str) -> None:
        self.kinds = frozenset(kinds)
        self.target_field = target_field
        self._faults: list[Fault] = []

    def arm(self, spec: object) -> Fault:
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        kind, count = spec.get("kind"), spec.get("count", 1)
        target = spec.get(self.target_field)
        if kind not in self.kinds:
            raise ValueError(f"kind must be one of {sorted(self.kinds)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        if target is not None and not isinstance(target, str):
            raise ValueError(f"{self.target_field} must be a string")
        params = {name: spec[name] for name in _FAULT_DEFAULTS if name in spec}
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in params.values()):
            raise ValueError(f"{', '.join(_FAULT_DEFAULTS)} must be non-negative numbers")
        fault = Fault(kind, target, count, params)
        self._faults.append(fault)
        return fault

    def take(self, kinds: Iterable[str], targets: Iterable[str] = ()) -> Fault | None:
        """Use up one application of the first armed fault of these kinds that matches a target."""
        wanted, targets = set(kinds), set(targets)
        for fault in self._faults:
            if fault.kind in wanted and (fault.target is None or fault.target in targets):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()


async def transport_fault_reply(fault: Fault) -> web.StreamResponse:
    """The answer for the fault kinds every simulator shares: http_5xx, throttle, timeout."""
    if fault.kind == "http_5xx":
        return web.Response(status=int(fault.param("status")), text="service unavailable")
    if fault.kind == "throttle":
        return web.Response(
            status=429, text="too many requests", headers={"Retry-After": str(int(fault.param("retry_after")))}
        )
    # timeout: hold the request past the client's patience without acting on it.
    await asyncio.sleep(float(fault.param("hold_s")))
    return web.Response(status=504, text="gateway timeout")


async def reply_with_fault(fault: Fault | None, answer: Callable[[], web.Response]) -> web.StreamResponse:
    """`answer()` as a fault changes it: the transport kinds answer in its place, `slow_answer` answers `hold_s`
    late, `malformed` answers 200 with a body that is not JSON."""
    if fault is None:
        return answer()
    if fault.kind in ("http_5xx", "throttle", "timeout"):
        return await transport_fault_reply(fault)
    if fault.kind == "slow_answer":
        await asyncio.sleep(float(fault.param("hold_s")))
    if fault.kind == "malformed":
        return web.Response(status=200, content_type="application/json", text='{"trackId": "')
    return answer()


def add_control_routes(app: web.Application, faults: FaultBook, reset: Callable[[], None]) -> None:
    async def arm_fault(request: web.Request) -> web.Response:
        try:
            fault = faults.arm(await request.json())
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(
            {"kind": fault.kind, faults.target_field: fault.target, "count": fault.remaining, **fault.params},
            status=201,
        )

    async def reset_all(request: web.Request) -> web.Response:
        faults.clear()
        reset()
        return web.json_response({"reset": True})

    app.router.add_post("/control/faults", arm_fault)
    app.router.add_post("/control/reset", reset_all)


def add_call_counts(app: web.Application) -> Counter[str]:
    """Counts the calls each API route answers (`"POST /api/v1/documents/batch"`), served at `GET /control/calls`;
    the control routes are not counted. The caller clears the counter on reset."""
    calls: Counter[str] = Counter()

    @web.middleware
    async def count_calls(request: web.Request, handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        if route is not None and not route.canonical.startswith("/control/"):
            calls[f"{request.method} {route.canonical}"] += 1
        return await handler(request)

    async def call_counts(request: web.Request) -> web.Response:
        return web.json_response({"calls": dict(calls)})

    app.router.add_get("/control/calls", call_counts)
    app.middlewares.append(count_calls)
    return calls


def serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT; print `{"port": N}` once listening (N is the bound port for 0)."""
    freeze_survivors_of_full_passes()
    asyncio.run(_serve(app, host, port))


async def _serve(app: web.Application, host: str, port: int) -> None:
    sock = socket.create_server((host, port))
    # Requests held by a timeout fault are abandoned at once on stop rather than awaited.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
