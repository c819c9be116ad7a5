"""An Iran Poosheh inbox: stores delivered documents per inbox address and answers authenticity queries.

Run `python -m simulators.poosheh_inbox --port 0`: it prints `{"port": N}` once listening.

API (see gateway.messaging.poosheh): `POST /api/v1/inboxes/{address}/documents` (deduplicated by
`message_id`), `GET /api/v1/authenticity?tracking_code=&qr_payload=`. Both need a bearer token.
Control API:
- `GET /control/inbox/{address}`: the documents the inbox holds.
- `POST /control/faults` `{"kind", "address"?, "count"?, ...}`: `http_5xx` (`status`), `throttle`
  (`retry_after`), `timeout` (holds `hold_s` seconds, stores nothing), `slow_answer` (stores the
  delivery, then answers `hold_s` seconds later). A fault without an address also applies to
  authenticity queries (except `slow_answer`, which is for deliveries only).
- `POST /control/reset`: forgets documents and faults.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import uuid
from datetime import UTC, datetime

from aiohttp import web

from simulators.http_faults import FaultBook, add_control_routes, serve, transport_fault_reply

API = "/api/v1"
_TRANSPORT_FAULTS = ("http_5xx", "throttle", "timeout")
FAULT_KINDS = (*_TRANSPORT_FAULTS, "slow_answer")
_ADDRESS = re.compile(r"iran\d{10,12}")


class Inbox:
    def __init__(self) -> None:
        self.faults = FaultBook(FAULT_KINDS, target_field="address")
        self.reset()

    def reset(self) -> None:
        self.by_message_id: dict[str, dict] = {}
        self.by_address: dict[str, list[dict]] = {}

    def store(self, address: str, message_id: str, tracking_code: str, qr_payload: str | None, document: dict) -> dict:
        stored = {
            "document_id": uuid.uuid4().hex,
            "address": address,
            "message_id": message_id,
            "tracking_code": tracking_code,
            "qr_payload": qr_payload,
            "document": document,
            "stored_at": datetime.now(UTC).isoformat(),
        }
        self.by_message_id[message_id] = stored
        self.by_address.setdefault(address, []).append(stored)
        return stored

    def find(self, tracking_code: str) -> dict | None:
        return next((d for d in self.by_message_id.values() if d["tracking_code"] == tracking_code), None)


def _authorised(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def create_app() -> web.Application:
    inbox = Inbox()
    routes = web.RouteTableDef()

    def error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    @routes.post(API + "/inboxes/{address}/documents")
    async def deliver(request: web.Request) -> web.StreamResponse:
        if not _authorised(request):
            return error(401, "missing or invalid bearer token")
        address = request.match_info["address"]
        if not _ADDRESS.fullmatch(address):
            return error(404, "no such inbox")
        fault = inbox.faults.take(FAULT_KINDS, [address])
        if fault and fault.kind != "slow_answer":
            return await transport_fault_reply(fault)
        try:
            delivery = _parse_delivery(await request.json())
        except ValueError:
            delivery = None
        if delivery is None:
            return error(400, "expected message_id, tracking_code, qr_payload and document")
        message_id, tracking_code, qr_payload, document = delivery
        if message_id in inbox.by_message_id:
            answer = web.json_response(_receipt(inbox.by_message_id[message_id], duplicate=True), status=200)
        else:
            stored = inbox.store(address, message_id, tracking_code, qr_payload, document)
            answer = web.json_response(_receipt(stored, duplicate=False), status=201)
        if fault:  # slow_answer: the document is stored; only the answer is late
            await asyncio.sleep(float(fault.param("hold_s")))
        return answer

    @routes.get(API + "/authenticity")
    async def authenticity(request: web.Request) -> web.StreamResponse:
        if not _authorised(request):
            return error(401, "missing or invalid bearer token")
        if fault := inbox.faults.take(_TRANSPORT_FAULTS):
            return await transport_fault_reply(fault)
        tracking_code = request.query.get("tracking_code", "")
        if not tracking_code:
            return error(400, "tracking_code is required")
        stored = inbox.find(tracking_code)
        qr_payload = request.query.get("qr_payload")
        if stored is None:
            return web.json_response({"verdict": "not_found", "document": None})
        if qr_payload is not None and qr_payload != stored["qr_payload"]:
            return web.json_response({"verdict": "mismatch", "document": None})
        return web.json_response(
            {"verdict": "authentic", "document": stored["document"], "stored_at": stored["stored_at"]}
        )

    @routes.get("/control/inbox/{address}")
    async def inbox_contents(request: web.Request) -> web.Response:
        address = request.match_info["address"]
        return web.json_response({"address": address, "documents": inbox.by_address.get(address, [])})

    app = web.Application()
    app.add_routes(routes)
    add_control_routes(app, inbox.faults, inbox.reset)
    return app


def _parse_delivery(body: object) -> tuple[str, str, str | None, dict] | None:
    if not isinstance(body, dict):
        return None
    message_id, tracking_code, qr_payload, document = (
        body.get(name) for name in ("message_id", "tracking_code", "qr_payload", "document")
    )
    if (
        isinstance(message_id, str)
        and message_id
        and isinstance(tracking_code, str)
        and tracking_code
        and isinstance(document, dict)
        and (qr_payload is None or isinstance(qr_payload, str))
    ):
        return message_id, tracking_code, qr_payload, document
    return None


def _receipt(stored: dict, *, duplicate: bool) -> dict:
    return {"document_id": stored["document_id"], "stored_at": stored["stored_at"], "duplicate": duplicate}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Iran Poosheh inbox simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9302, help="0 binds a free port")
    args = parser.parse_args(argv)
    serve(create_app(), args.host, args.port)


if __name__ == "__main__":
    main()
