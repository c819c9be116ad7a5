"""Runs the gateway on uvloop, in one process or several sharing the port with SO_REUSEPORT.

With several processes, the background work (recovery, settlement, the outbox, oversight detection) runs in one
more process of its own that serves no requests: its bursts (a batch of messages, a detection pass) would otherwise
hold up the charges of whichever process ran them, and tail latency with them. That process also runs at a lower
scheduling priority, so that on shared cores a charge waiting for its answer goes before a message that can wait."""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import signal

import uvloop
from aiohttp import web

from gateway.platform.config import Settings
from gateway.web.app import create_app

# Connections waiting to be accepted: a busy moment (offices opening, a burst of retries) must not meet a full queue
# and refused connections; the kernel caps it at net.core.somaxconn.
ACCEPT_BACKLOG = 4096

# Added to the background process's nice value. Its work is retried and has minutes of slack (recovery's grace, the
# outbox's retries), so it can wait while the cores serve charges; it still gets CPU whenever they have any to spare.
BACKGROUND_NICENESS = 10


def _serve_one(settings: Settings, reuse_port: bool) -> None:
    uvloop.install()
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=reuse_port,
        backlog=ACCEPT_BACKLOG,
        access_log=None,
        print=None,
        shutdown_timeout=30,
    )


def _background_work(settings: Settings) -> None:
    """The application's services and workers, started and stopped as when serving, with no listener."""
    os.nice(BACKGROUND_NICENESS)
    uvloop.install()

    async def run() -> None:
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopped.set)
        try:
            await stopped.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())


def serve(settings: Settings, workers: int) -> None:
    if workers <= 1:
        _serve_one(settings, reuse_port=False)
        return
    http_only = dataclasses.replace(settings, run_workers=False)
    processes = [multiprocessing.Process(target=_serve_one, args=(http_only, True)) for _ in range(workers)]
    if settings.run_workers:
        processes.append(multiprocessing.Process(target=_background_work, args=(settings,)))
    run_together(processes)


def run_together(processes: list[multiprocessing.Process]) -> None:
    """Starts the processes and waits for them all; SIGTERM or SIGINT here is passed on to each."""
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
