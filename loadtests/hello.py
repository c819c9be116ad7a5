"""The baseline: an aiohttp hello-world JSON endpoint served the way the gateway is served (uvloop, orjson, no
access log, N processes sharing the port with SO_REUSEPORT), so a ratio against it measures the gateway's own work.

    python -m loadtests.hello --port 8099 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing

import orjson
import uvloop
from aiohttp import web

from gateway.web.server import run_together

HELLO = orjson.dumps({"hello": "world"})


async def hello(request: web.Request) -> web.Response:
    return web.Response(body=HELLO, content_type="application/json")


def _serve_one(host: str, port: int, reuse_port: bool) -> None:
    uvloop.install()
    app = web.Application()
    app.router.add_get("/hello", hello)
    web.run_app(app, host=host, port=port, reuse_port=reuse_port, access_log=None, print=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hello", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers <= 1:
        _serve_one(args.host, args.port, reuse_port=False)
        return
    run_together(
        [multiprocessing.Process(target=_serve_one, args=(args.host, args.port, True)) for _ in range(args.workers)]
    )


if __name__ == "__main__":
    main()
