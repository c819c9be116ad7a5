"""Payam Iran (پیام ایران), the government's unified messaging system: agencies send to citizens only through it,
from the 4040 line or the text mask assigned to them (001 art. 3). It is the default channel of the confirmation
SMS; the commercial providers (Magfa, Kavenegar) stay as configured alternatives.

The API spoken here (REST/JSON, `Authorization: Bearer <agency token>`):
- `POST /payam-iran/api/v1/messages` with `{"clientMessageId", "sender", "recipient", "body"}` → 201
  `{"messageId", "clientMessageId", "status": "ACCEPTED"}`; the same `clientMessageId` again answers 200 with the
  first message's id and sends nothing. 400 `{"error": {"code"}}` refuses the message (`INVALID_RECIPIENT`,
  `EMPTY_BODY`, `SENDER_NOT_ASSIGNED`); 401 refuses our token.
- `POST /payam-iran/api/v1/messages/batch` with `{"messages": [...]}`, up to 100 messages shaped as above, each
  from its own sender → 200 `{"results": [...]}`, one per message in the order sent: `{"clientMessageId",
  "status": "ACCEPTED", "messageId", "duplicate"}` (a `clientMessageId` seen before, in an earlier call or earlier
  in this one, answers the first message's id and sends nothing), or `{"clientMessageId", "status": "REFUSED",
  "error": {"code"}}` with the codes of the single send. 400 refuses the whole call (`BAD_REQUEST`,
  `TOO_MANY_MESSAGES`), 401 our token. The adapter sends through this call, even a single message.
- `POST /payam-iran/api/v1/messages/status` with `{"clientMessageIds": [...]}` → `{"statuses": [{"clientMessageId",
  "status": "SENT" | "DELIVERED" | "UNDELIVERED" | "FAILED" | "UNKNOWN"}]}`, 100 ids at most.
"""

from __future__ import annotations

import re
from typing import ClassVar

from gateway.messaging.http_transport import JsonHttpClient, json_objects
from gateway.messaging.sms_providers import (
    DeliveryStatus,
    SendOutcome,
    SendResult,
    SmsProvider,
    Submission,
    require_4040_line,
    unavailable,
)

API = "/payam-iran/api/v1"
MAX_IDS_PER_CALL = 100
MAX_MESSAGES_PER_CALL = 100
# A text mask: Latin letters and digits, starting with a letter, at most 11 characters (an alphanumeric sender).
_MASK = re.compile(r"[A-Za-z][A-Za-z0-9]{1,10}")

_PERMANENT_ERRORS = {
    "INVALID_RECIPIENT": "invalid recipient",
    "EMPTY_BODY": "empty message",
    "SENDER_NOT_ASSIGNED": "the sender is not assigned to this agency",
}
_DELIVERY = {
    "SENT": DeliveryStatus.SENT,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "UNDELIVERED": DeliveryStatus.UNDELIVERED,
    "FAILED": DeliveryStatus.FAILED,
}


class PayamIranProvider(SmsProvider):
    kind = "payam_iran"
    accepts_masks: ClassVar[bool] = True
    max_batch: ClassVar[int] = MAX_MESSAGES_PER_CALL

    def __init__(self, base_url: str, credentials: dict, timeout: float) -> None:
        super().__init__(JsonHttpClient(base_url, timeout, headers={"Authorization": f"Bearer {credentials['token']}"}))

    def check_sender(self, sender: str) -> str:
        if isinstance(sender, str) and _MASK.fullmatch(sender):
            return sender
        return require_4040_line(sender)

    async def _submit(self, batch: list[Submission]) -> list[SendResult]:
        answer = await self._http.request(
            "POST",
            f"{API}/messages/batch",
            json={
                "messages": [
                    {"clientMessageId": item.uid, "sender": item.sender, "recipient": item.mobile, "body": item.text}
                    for item in batch
                ]
            },
        )
        if failure := unavailable(answer):
            return [failure] * len(batch)
        body = answer.body if isinstance(answer.body, dict) else {}
        items = json_objects(body.get("results"))
        if answer.status != 200 or len(items) != len(batch):
            error = body.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            return [SendResult.retryable(f"payam iran HTTP {answer.status} {code or ''}".strip())] * len(batch)
        return [_item_result(sent.uid, item) for sent, item in zip(batch, items, strict=True)]

    async def _fetch_statuses(self, uids: list[int]) -> dict[int, DeliveryStatus]:
        found: dict[int, DeliveryStatus] = {}
        for start in range(0, len(uids), MAX_IDS_PER_CALL):
            chunk = uids[start : start + MAX_IDS_PER_CALL]
            answer = await self._http.request("POST", f"{API}/messages/status", json={"clientMessageIds": chunk})
            if answer.status != 200 or not isinstance(answer.body, dict):
                continue
            for report in json_objects(answer.body.get("statuses")):
                uid = report.get("clientMessageId")
                if isinstance(uid, int):
                    found[uid] = _DELIVERY.get(str(report.get("status")), DeliveryStatus.UNKNOWN)
        return found


def _item_result(uid: int, item: dict) -> SendResult:
    if item.get("clientMessageId") != uid:
        return SendResult.retryable(f"payam iran answered for {item.get('clientMessageId')!r} in the place of {uid}")
    if item.get("status") == "ACCEPTED" and item.get("messageId"):
        return SendResult(SendOutcome.ACCEPTED, provider_message_id=str(item["messageId"]))
    error = item.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if item.get("status") == "REFUSED" and code in _PERMANENT_ERRORS:
        return SendResult.permanent(f"payam iran {code}: {_PERMANENT_ERRORS[code]}")
    return SendResult.retryable(f"payam iran {item.get('status')} {code or ''}".strip())
