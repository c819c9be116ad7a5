"""Helpers of the whole-path tests (the fixtures that build the stack are in tests/conftest.py): a client of a
gateway served on a real socket, and a charge request body."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp.test_utils import TestServer

from gateway.platform.config import PROJECT_ROOT, Settings
from gateway.web.app import create_app

DEMO_REGISTRY = PROJECT_ROOT / "gateway" / "registry" / "demo.toml"


@dataclass
class Gateway:
    url: str
    session: aiohttp.ClientSession
    app: object

    @property
    def services(self):
        from gateway.web.context import SERVICES

        return self.app[SERVICES]

    async def request(
        self, method: str, path: str, *, key: str | None = None, json=None, data=None, headers: dict | None = None
    ) -> tuple[int, object]:
        all_headers = dict(headers or {})
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        async with self.session.request(method, self.url + path, json=json, data=data, headers=all_headers) as response:
            body = await response.read()
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, body

    async def charge(self, key: str, body: dict, idempotency_key: str | None = None) -> tuple[int, dict]:
        return await self.request(
            "POST", "/v1/charges", key=key, json=body, headers={"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        )


@asynccontextmanager
async def served(settings: Settings, session: aiohttp.ClientSession, port: int | None = None) -> AsyncIterator[Gateway]:
    """The gateway application with these settings on `port` (a free local port if None), while the block runs."""
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Gateway(str(server.make_url("")).rstrip("/"), session, server.app)
    finally:
        await server.close()


def charge_body(
    terminal_id: str = "10000001",
    operator_id: str = "op-11",
    service_code: str = "1101",
    amount: int = 700_000,
    **overrides,
) -> dict:
    body = {
        "terminal_id": terminal_id,
        "operator_id": operator_id,
        "service_code": service_code,
        "quantity": 1,
        "extras": [],
        "recipient": {"name": "علی رضایی", "national_code": "0012345679", "mobile": "09121234567"},
        "amount": amount,
        "payment_method": "card",
    }
    body.update(overrides)
    return body
