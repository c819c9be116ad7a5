"""Runs the gateway on uvloop, in one process or several sharing the port with SO_REUSEPORT."""
from __future__ import annotations

import multiprocessing
import signal

import uvloop
from aiohttp import web

from gateway.app import create_app
from gateway.config import Settings


# Connections waiting to be accepted: a busy moment (offices opening, a burst of retries) must not meet a full queue
# and refused connections; the kernel caps it at net.core.somaxconn.
ACCEPT_BACKLOG = 4096


def _serve_one(settings: Settings, reuse_port: bool) -> None:
    uvloop.install()
    web.run_app(create_app(settings), host=settings.host, port=settings.port, reuse_port=reuse_port,
                backlog=ACCEPT_BACKLOG, access_log=None, print=None, shutdown_timeout=30)


def serve(settings: Settings, workers: int) -> None:
    if workers <= 1:
        _serve_one(settings, reuse_port=False)
        return
    processes = [multiprocessing.Process(target=_serve_one, args=(settings, True), daemon=False)
                 for _ in range(workers)]
    for process in processes:
        process.start()

    def stop(signum, frame):
        for process in processes:
            if process.is_alive():
                process.terminate()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
