"""An Iran Poosheh inbox: stores delivered documents per inbox address and answers authenticity queries.

Run `python -m simulators.poosheh_inbox --port 0`: it prints `{"port": N}` once listening.

API (see gateway.messaging.poosheh): `POST /api/v1/inboxes/{address}/documents` (deduplicated by
`message_id`), `POST /api/v1/documents/batch` (up to 100 deliveries, each answered on its own; a fault armed for
any address of the call hits the whole call), `GET /api/v1/authenticity?tracking_code=&qr_payload=`. All need a
bearer token.
Control API:
- `GET /control/inbox/{address}`: the documents the inbox holds.
- `POST /control/faults` `{"kind", "address"?, "count"?, ...}`: `http_5xx` (`status`), `throttle`
  (`retry_after`), `timeout` (holds `hold_s` seconds, stores nothing), `slow_answer` (stores the
  delivery, then answers `hold_s` seconds later), `reject` (answers 404, no such inbox, for the address). A
  fault without an address also applies to authenticity queries (except `slow_answer` and `reject`, which are for
  deliveries only).
- `GET /control/calls`: how many calls each API route has answered.
- `POST /control/reset`: forgets documents, faults and call counts.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import uuid
from datetime import UTC, datetime

from aiohttp import web

from simulators.http_faults import FaultBook, add_call_counts, add_control_routes, serve, transport_fault_reply

API = "/api/v1"
_TRANSPORT_FAULTS = ("http_5xx", "throttle", "timeout")
_CALL_FAULTS = (*_TRANSPORT_FAULTS, "slow_answer")
FAULT_KINDS = (*_CALL_FAULTS, "reject")
_ADDRESS = re.compile(r"iran\d{10,12}")
MAX_BATCH = 100
# A batch of signed receipts is larger than aiohttp's default 1 MiB request limit.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


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

    def exists(self, address: str) -> bool:
        return _ADDRESS.fullmatch(address) is not None and self.faults.take(["reject"], [address]) is None

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

    def store_once(address: str, delivery: tuple[str, str, str | None, dict]) -> tuple[int, dict]:
        """The HTTP status and body a delivery answers: 201 stored, or 200 with the first answer for a message id
        seen before."""
        message_id, tracking_code, qr_payload, document = delivery
        if message_id in inbox.by_message_id:
            return 200, _receipt(inbox.by_message_id[message_id], duplicate=True)
        return 201, _receipt(inbox.store(address, message_id, tracking_code, qr_payload, document), duplicate=False)

    @routes.post(API + "/inboxes/{address}/documents")
    async def deliver(request: web.Request) -> web.StreamResponse:
        if not _authorised(request):
            return error(401, "missing or invalid bearer token")
        address = request.match_info["address"]
        if not inbox.exists(address):
            return error(404, "no such inbox")
        fault = inbox.faults.take(_CALL_FAULTS, [address])
        if fault and fault.kind != "slow_answer":
            return await transport_fault_reply(fault)
        try:
            delivery = _parse_delivery(await request.json())
        except ValueError:
            delivery = None
        if delivery is None:
            return error(400, "expected message_id, tracking_code, qr_payload and document")
        status, body = store_once(address, delivery)
        if fault:  # slow_answer: the document is stored; only the answer is late
            await asyncio.sleep(float(fault.param("hold_s")))
        return web.json_response(body, status=status)

    @routes.post(API + "/documents/batch")
    async def deliver_batch(request: web.Request) -> web.StreamResponse:
        if not _authorised(request):
            return error(401, "missing or invalid bearer token")
        try:
            body = await request.json()
        except ValueError:
            body = None
        deliveries = body.get("deliveries") if isinstance(body, dict) else None
        if not isinstance(deliveries, list) or not deliveries or not all(isinstance(d, dict) for d in deliveries):
            return error(400, "expected deliveries: a list of deliveries")
        if len(deliveries) > MAX_BATCH:
            return error(400, f"at most {MAX_BATCH} deliveries per call")
        fault = inbox.faults.take(_CALL_FAULTS, [str(d.get("address")) for d in deliveries])
        if fault and fault.kind != "slow_answer":
            return await transport_fault_reply(fault)
        results = []
        for item in deliveries:
            address, delivery = str(item.get("address")), _parse_delivery(item)
            if not inbox.exists(address):
                status, answer = 404, {"error": "no such inbox"}
            elif delivery is None:
                status, answer = 400, {"error": "expected message_id, tracking_code, qr_payload and document"}
            else:
                status, answer = store_once(address, delivery)
            results.append({"message_id": item.get("message_id"), "status": status, **answer})
        if fault:  # slow_answer: the documents are stored; only the answer is late
            await asyncio.sleep(float(fault.param("hold_s")))
        return web.json_response({"results": results})

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

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.add_routes(routes)
    calls = add_call_counts(app)

    def reset() -> None:
        inbox.reset()
        calls.clear()

    add_control_routes(app, inbox.faults, reset)
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
