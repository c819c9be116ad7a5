"""An SMS centre that speaks Payam Iran's REST API (the government's messaging system) and the commercial
providers' (Magfa's HTTP v2, Kavenegar's REST), with fault injection.

Run `python -m simulators.sms_centre --port 0`: it prints `{"port": N}` once listening.

Payam Iran also takes up to 100 messages in one call (`POST /payam-iran/api/v1/messages/batch`, see
gateway.messaging.payam_iran), and Magfa's send takes parallel arrays; a request fault armed for any recipient of
such a call hits the whole call. Every accepted message reaches the handset (or fails to) `--delivery-delay`
seconds later. Sends are deduplicated by the caller's id (Payam Iran `clientMessageId`, Magfa `uids`, Kavenegar
`localid`) per account: a repeat returns the first answer and delivers nothing more. Payam Iran sends only
from a 4040 line or a text mask (it does not know which agency holds which; the gateway's registry does).

Control API (the test oracle):
- `GET /control/messages?recipient=`: every message delivered to a handset so far.
- `POST /control/faults` `{"kind", "recipient"?, "count"?, ...}` arms a fault for the next `count`
  sends (to `recipient`, or to anyone); kinds:
  `http_5xx` (`status`), `throttle` (429 with Retry-After `retry_after`), `timeout` (holds the request
  `hold_s` seconds and does nothing), `answer_lost` (accepts and delivers, then drops the connection),
  `slow_answer` (accepts and delivers, then answers `hold_s` seconds later),
  `reject` (refuses the recipient as invalid), `delayed_delivery` (`delay_s` more before delivery),
  `undelivered` (the operator never reaches the handset).
- `GET /control/calls`: how many calls each API route has answered (`"POST /payam-iran/api/v1/messages/batch"`).
- `POST /control/reset`: forgets messages, deduplication, faults and call counts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import itertools
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from gateway.messaging.sms_text import count_parts
from simulators.http_faults import Fault, FaultBook, add_call_counts, add_control_routes, serve, transport_fault_reply

MAGFA_API = "/api/http/sms/v2"
PAYAM_IRAN_API = "/payam-iran/api/v1"
PAYAM_IRAN_MAX_BATCH = 100
_PAYAM_IRAN_SENDER = re.compile(r"4040\d{1,10}|[A-Za-z][A-Za-z0-9]{1,10}")
_PAYAM_IRAN_STATUS = {"sent": "SENT", "delivered": "DELIVERED", "undelivered": "UNDELIVERED"}
FAULT_KINDS = (
    "http_5xx",
    "throttle",
    "timeout",
    "answer_lost",
    "slow_answer",
    "reject",
    "delayed_delivery",
    "undelivered",
)
_REQUEST_FAULTS = ("http_5xx", "throttle", "timeout", "answer_lost", "slow_answer")
_AFTER_ACCEPTING = ("answer_lost", "slow_answer")  # the send is done; only the answer suffers
_MOBILE = re.compile(r"09\d{9}")

_MAGFA_STATUS = {"sent": 8, "delivered": 1, "undelivered": 2}
_KAVENEGAR_STATUS = {
    "queued": (1, "در صف ارسال"),
    "sent": (4, "ارسال شده به مخابرات"),
    "delivered": (10, "رسیده به گیرنده"),
    "undelivered": (11, "نرسیده به گیرنده"),
}


@dataclass
class Sms:
    mid: int
    api: str
    caller_id: int | None
    sender: str
    recipient: str
    text: str
    deliver_at: float
    reaches_handset: bool

    def state(self, now: float) -> str:
        if now < self.deliver_at:
            return "sent"
        return "delivered" if self.reaches_handset else "undelivered"


class SmsCentre:
    def __init__(self, delivery_delay: float) -> None:
        self.delivery_delay = delivery_delay
        self.faults = FaultBook(FAULT_KINDS, target_field="recipient")
        self._mids = itertools.count(1_000_001)  # never restarts, so an old id never names a new message
        self.reset()

    def reset(self) -> None:
        self.messages: dict[int, Sms] = {}
        self.by_caller_id: dict[tuple[str, str, int], list[Sms]] = {}

    def request_fault(self, recipients: list[str]) -> Fault | None:
        return self.faults.take(_REQUEST_FAULTS, recipients)

    def accept(self, api: str, caller_id: int | None, sender: str, recipient: str, text: str) -> Sms:
        delay = self.delivery_delay
        if fault := self.faults.take(["delayed_delivery"], [recipient]):
            delay += fault.param("delay_s")
        reaches = self.faults.take(["undelivered"], [recipient]) is None
        sms = Sms(next(self._mids), api, caller_id, sender, recipient, text, time.time() + delay, reaches)
        self.messages[sms.mid] = sms
        return sms

    def find(self, api: str, mid: str) -> Sms | None:
        sms = self.messages.get(int(mid)) if mid.isdigit() else None
        return sms if sms is not None and sms.api == api else None

    def refuses(self, recipient: str) -> bool:
        return not _MOBILE.fullmatch(recipient) or self.faults.take(["reject"], [recipient]) is not None

    def handset_log(self, recipient: str | None) -> list[dict]:
        now = time.time()
        delivered = sorted(
            (m for m in self.messages.values() if m.state(now) == "delivered" and recipient in (None, m.recipient)),
            key=lambda m: (m.deliver_at, m.mid),
        )
        return [
            {
                "mid": m.mid,
                "api": m.api,
                "caller_id": m.caller_id,
                "sender": m.sender,
                "recipient": m.recipient,
                "text": m.text,
                "delivered_at": datetime.fromtimestamp(m.deliver_at, UTC).isoformat(),
            }
            for m in delivered
        ]


async def _after_request_fault(fault: Fault | None, answer: web.Response, request: web.Request) -> web.StreamResponse:
    """The reply once the send is done; `answer_lost` drops it instead, `slow_answer` holds it first."""
    if fault is not None and fault.kind == "answer_lost" and request.transport is not None:
        request.transport.abort()
    if fault is not None and fault.kind == "slow_answer":
        await asyncio.sleep(float(fault.param("hold_s")))
    return answer


def magfa_routes(centre: SmsCentre) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    def account(request: web.Request) -> str | None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if scheme.lower() == "basic" and "/" in user and password else None

    def error(code: int, http_status: int = 200) -> web.Response:
        return web.json_response({"status": code, "messages": None}, status=http_status)

    @routes.post(f"{MAGFA_API}/send")
    async def send(request: web.Request) -> web.StreamResponse:
        user = account(request)
        if user is None:
            return error(18, 401)
        try:
            parsed = _magfa_send_request(await request.json())
        except ValueError:
            parsed = 31
        if isinstance(parsed, int):
            return error(parsed)
        recipients, messages, senders, uids = parsed
        fault = centre.request_fault(recipients)
        if fault and fault.kind not in _AFTER_ACCEPTING:
            return await transport_fault_reply(fault)
        entries = []
        for i, recipient in enumerate(recipients):
            text, sender, uid = messages[i % len(messages)], senders[i % len(senders)], uids[i]
            key = None if uid is None else ("magfa", user, uid)
            if key is not None and key in centre.by_caller_id:
                sms = centre.by_caller_id[key][0]
            elif not text:
                entries.append({"status": 13, "recipient": recipient})
                continue
            elif centre.refuses(recipient):
                entries.append({"status": 1, "recipient": recipient})
                continue
            else:
                sms = centre.accept("magfa", uid, sender, recipient, text)
                if key is not None:
                    centre.by_caller_id[key] = [sms]
            entries.append(
                {
                    "status": 0,
                    "id": sms.mid,
                    "userId": sms.caller_id,
                    "parts": count_parts(sms.text),
                    "recipient": sms.recipient,
                }
            )
        return await _after_request_fault(fault, web.json_response({"status": 0, "messages": entries}), request)

    @routes.get(MAGFA_API + "/mid/{uid}")
    async def mid(request: web.Request) -> web.Response:
        user = account(request)
        if user is None:
            return error(18, 401)
        if not request.match_info["uid"].isdigit():
            return error(24)
        found = centre.by_caller_id.get(("magfa", user, int(request.match_info["uid"])))
        return web.json_response({"status": 0, "mid": found[0].mid if found else 0})

    @routes.get(MAGFA_API + "/statuses/{mids}")
    async def statuses(request: web.Request) -> web.Response:
        if account(request) is None:
            return error(18, 401)
        now, dlrs = time.time(), []
        for item in request.match_info["mids"].split(","):
            sms = centre.find("magfa", item)
            dlrs.append(
                {
                    "mid": int(item) if item.isdigit() else item,
                    "status": _MAGFA_STATUS[sms.state(now)] if sms else -1,
                    "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        return web.json_response({"status": 0, "dlrs": dlrs})

    return routes


def _strings(value: object) -> list[str] | None:
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _magfa_send_request(body: object) -> tuple[list[str], list[str], list[str], list[int | None]] | int:
    """The parallel arrays of a Magfa send, or the error code that refuses it."""
    if not isinstance(body, dict):
        return 31
    recipients, messages, senders = (_strings(body.get(name)) for name in ("recipients", "messages", "senders"))
    if recipients is None or messages is None or senders is None:
        return 31
    uids = body.get("uids") or [None] * len(recipients)
    if not isinstance(uids, list) or not all(u is None or type(u) is int for u in uids):
        return 31
    if not recipients:
        return 106
    if (
        len(messages) not in (1, len(recipients))
        or len(senders) not in (1, len(recipients))
        or len(uids) != len(recipients)
    ):
        return 101
    return recipients, messages, senders, uids


def payam_iran_routes(centre: SmsCentre) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    def agency(request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token if scheme == "Bearer" and token else None

    def refused(code: str, status: int = 400) -> web.Response:
        return web.json_response({"error": {"code": code}}, status=status)

    def send_one(token: str, uid: int, sender: str, recipient: str, text: str) -> tuple[Sms | None, str]:
        """The message sent (or the one first sent under `uid`) and "ACCEPTED" or "DUPLICATE", or None and the
        error code that refuses it."""
        key = ("payam_iran", token, uid)
        if key in centre.by_caller_id:
            return centre.by_caller_id[key][0], "DUPLICATE"
        if not _PAYAM_IRAN_SENDER.fullmatch(sender):
            return None, "SENDER_NOT_ASSIGNED"
        if not text:
            return None, "EMPTY_BODY"
        if centre.refuses(recipient):
            return None, "INVALID_RECIPIENT"
        sms = centre.accept("payam_iran", uid, sender, recipient, text)
        centre.by_caller_id[key] = [sms]
        return sms, "ACCEPTED"

    @routes.post(f"{PAYAM_IRAN_API}/messages")
    async def send(request: web.Request) -> web.StreamResponse:
        token = agency(request)
        if token is None:
            return refused("UNAUTHORIZED", 401)
        message = _payam_iran_message(await request.json())
        if message is None:
            return refused("BAD_REQUEST")
        uid, sender, recipient, text = message
        fault = centre.request_fault([recipient])
        if fault and fault.kind not in _AFTER_ACCEPTING:
            return await transport_fault_reply(fault)
        sms, outcome = send_one(token, uid, sender, recipient, text)
        if sms is None:
            return refused(outcome)
        answer = web.json_response(
            {"messageId": sms.mid, "clientMessageId": uid, "status": "ACCEPTED"},
            status=200 if outcome == "DUPLICATE" else 201,
        )
        return await _after_request_fault(fault, answer, request)

    @routes.post(f"{PAYAM_IRAN_API}/messages/batch")
    async def send_batch(request: web.Request) -> web.StreamResponse:
        token = agency(request)
        if token is None:
            return refused("UNAUTHORIZED", 401)
        body = await request.json()
        items = body.get("messages") if isinstance(body, dict) else None
        messages = [_payam_iran_message(item) for item in items] if isinstance(items, list) else [None]
        if not messages or any(message is None for message in messages):
            return refused("BAD_REQUEST")
        if len(messages) > PAYAM_IRAN_MAX_BATCH:
            return refused("TOO_MANY_MESSAGES")
        fault = centre.request_fault([message[2] for message in messages if message is not None])
        if fault and fault.kind not in _AFTER_ACCEPTING:
            return await transport_fault_reply(fault)
        results = []
        for message in messages:
            assert message is not None
            sms, outcome = send_one(token, *message)
            if sms is None:
                results.append({"clientMessageId": message[0], "status": "REFUSED", "error": {"code": outcome}})
            else:
                results.append(
                    {
                        "clientMessageId": message[0],
                        "status": "ACCEPTED",
                        "messageId": sms.mid,
                        "duplicate": outcome == "DUPLICATE",
                    }
                )
        return await _after_request_fault(fault, web.json_response({"results": results}), request)

    @routes.post(f"{PAYAM_IRAN_API}/messages/status")
    async def statuses(request: web.Request) -> web.Response:
        token = agency(request)
        if token is None:
            return refused("UNAUTHORIZED", 401)
        now, reports = time.time(), []
        for uid in (await request.json()).get("clientMessageIds", []):
            sent = centre.by_caller_id.get(("payam_iran", token, uid)) if type(uid) is int else None
            status = _PAYAM_IRAN_STATUS[sent[0].state(now)] if sent else "UNKNOWN"
            reports.append({"clientMessageId": uid, "status": status})
        return web.json_response({"statuses": reports})

    return routes


def _payam_iran_message(body: object) -> tuple[int, str, str, str] | None:
    """`clientMessageId`, sender, recipient and body of one Payam Iran message, or None when it is malformed."""
    if not isinstance(body, dict):
        return None
    uid, sender, text = body.get("clientMessageId"), body.get("sender"), body.get("body")
    if type(uid) is not int or not isinstance(sender, str) or not isinstance(text, str):
        return None
    return uid, sender, str(body.get("recipient")), text


def kavenegar_routes(centre: SmsCentre) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    def answer(status: int, message: str, entries: list | None = None) -> web.Response:
        return web.json_response({"return": {"status": status, "message": message}, "entries": entries}, status=status)

    async def params(request: web.Request) -> dict[str, str]:
        return {**request.query, **{name: str(value) for name, value in (await request.post()).items()}}

    def entry(sms: Sms, state: str, **extra) -> dict:
        status, text = _KAVENEGAR_STATUS[state]
        return {"messageid": sms.mid, "status": status, "statustext": text, **extra}

    def unknown(**ids) -> dict:
        return {"messageid": 0, "status": 100, "statustext": "شناسه نامعتبر", **ids}

    @routes.route("*", "/v1/{api_key}/sms/send.json")
    async def send(request: web.Request) -> web.StreamResponse:
        query = await params(request)
        receptors = [r.strip() for r in query.get("receptor", "").split(",") if r.strip()]
        message, sender, localid = query.get("message", ""), query.get("sender", ""), query.get("localid")
        if not receptors or (localid is not None and not localid.isdigit()):
            return answer(400, "پارامترها ناقص هستند")
        if not message or len(message) > 900:
            return answer(413, "پیام خالی است و یا طول پیام بیش از حد مجاز میباشد")
        fault = centre.request_fault(receptors)
        if fault and fault.kind not in _AFTER_ACCEPTING:
            return await transport_fault_reply(fault)
        key = ("kavenegar", request.match_info["api_key"], int(localid)) if localid else None
        sent = centre.by_caller_id.get(key) if key else None
        if sent is None:
            if any(centre.refuses(r) for r in receptors):
                return answer(411, "شماره گیرنده پیام معتبر نمی باشد")
            sent = [
                centre.accept("kavenegar", int(localid) if localid else None, sender, r, message) for r in receptors
            ]
            if key:
                centre.by_caller_id[key] = sent
        entries = [
            entry(
                sms,
                "queued",
                message=sms.text,
                sender=sms.sender,
                receptor=sms.recipient,
                date=int(time.time()),
                cost=120 * count_parts(sms.text),
            )
            for sms in sent
        ]
        return await _after_request_fault(fault, answer(200, "تایید شد", entries), request)

    @routes.route("*", "/v1/{api_key}/sms/statuslocalmessageid.json")
    async def status_by_localid(request: web.Request) -> web.Response:
        now, entries = time.time(), []
        for localid in (await params(request)).get("localid", "").split(","):
            key = ("kavenegar", request.match_info["api_key"], int(localid)) if localid.isdigit() else None
            sent = centre.by_caller_id.get(key, []) if key is not None else []
            entries += [entry(sms, sms.state(now), localid=localid) for sms in sent] or [unknown(localid=localid)]
        return answer(200, "تایید شد", entries)

    @routes.route("*", "/v1/{api_key}/sms/status.json")
    async def status_by_messageid(request: web.Request) -> web.Response:
        now, entries = time.time(), []
        for item in (await params(request)).get("messageid", "").split(","):
            sms = centre.find("kavenegar", item)
            entries.append(entry(sms, sms.state(now)) if sms else unknown(messageid=item))
        return answer(200, "تایید شد", entries)

    return routes


def create_app(delivery_delay: float) -> web.Application:
    centre = SmsCentre(delivery_delay)
    app = web.Application()
    app.add_routes(payam_iran_routes(centre))
    app.add_routes(magfa_routes(centre))
    app.add_routes(kavenegar_routes(centre))
    calls = add_call_counts(app)

    def reset() -> None:
        centre.reset()
        calls.clear()

    add_control_routes(app, centre.faults, reset)

    async def handset_messages(request: web.Request) -> web.Response:
        return web.json_response({"messages": centre.handset_log(request.query.get("recipient"))})

    app.router.add_get("/control/messages", handset_messages)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMS centre simulator (Payam Iran, Magfa v2 and Kavenegar APIs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9301, help="0 binds a free port")
    parser.add_argument(
        "--delivery-delay", type=float, default=1.0, help="seconds from acceptance to the handset (default 1.0)"
    )
    args = parser.parse_args(argv)
    serve(create_app(args.delivery_delay), args.host, args.port)


if __name__ == "__main__":
    main()
