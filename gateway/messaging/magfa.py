"""Magfa's HTTP v2 API (REST/JSON, basic auth as `username/domain:password`).

- `POST /api/http/sms/v2/send` with parallel arrays `senders`, `recipients`, `messages`, `uids` (the adapter
  sends up to 100 messages per call, each from its own sender); the answer's `status` is 0 for success, else an
  error code for the whole call, and so is each entry of `messages`, one per message in the order sent. A `uid`
  seen before answers the first message's id and sends nothing.
- `GET /api/http/sms/v2/mid/{uid}` finds Magfa's message id for our uid.
- `GET /api/http/sms/v2/statuses/{mid,mid,...}` lists delivery reports (`dlrs`), 100 ids at most.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import aiohttp

from gateway.messaging.http_transport import HttpAnswer, JsonHttpClient, json_objects
from gateway.messaging.sms_providers import (
    DeliveryStatus,
    SendOutcome,
    SendResult,
    SmsProvider,
    Submission,
    unavailable,
)

API = "/api/http/sms/v2"
MAX_IDS_PER_CALL = 100
MAX_MESSAGES_PER_CALL = 100

# Error codes that refuse this message itself (recipient or content); any other code is about the
# provider or the account (busy, credit, credentials) and is worth retrying.
_PERMANENT_ERRORS = {
    1: "invalid recipient",
    3: "text does not match its encoding",
    13: "empty message",
    27: "recipient is on the operator's blacklist",
    28: "recipient's prefix is blocked",
    30: "too many parts",
}

_DELIVERY = {
    -1: DeliveryStatus.UNKNOWN,  # unknown id, or older than 24 hours
    0: DeliveryStatus.QUEUED,  # no report yet
    1: DeliveryStatus.DELIVERED,  # reached the handset
    2: DeliveryStatus.UNDELIVERED,  # did not reach the handset
    8: DeliveryStatus.SENT,  # reached the operator
    16: DeliveryStatus.FAILED,  # did not reach the operator
}


class MagfaProvider(SmsProvider):
    kind = "magfa"
    max_batch: ClassVar[int] = MAX_MESSAGES_PER_CALL

    def __init__(self, base_url: str, credentials: dict, timeout: float) -> None:
        login = f"{credentials['username']}/{credentials['domain']}"
        authorization = aiohttp.encode_basic_auth(login, credentials["password"])
        super().__init__(JsonHttpClient(base_url, timeout, headers={"Authorization": authorization}))

    async def _submit(self, batch: list[Submission]) -> list[SendResult]:
        answer = await self._http.request(
            "POST",
            f"{API}/send",
            json={
                "senders": [item.sender for item in batch],
                "recipients": [item.mobile for item in batch],
                "messages": [item.text for item in batch],
                "uids": [item.uid for item in batch],
            },
        )
        if failure := unavailable(answer):
            return [failure] * len(batch)
        error = _error_code(answer.body)
        entries = json_objects(answer.body.get("messages")) if error is None else []
        if len(entries) != len(batch):
            return [_refusal(error, answer)] * len(batch)
        return [_entry_result(entry, answer) for entry in entries]

    async def _fetch_statuses(self, uids: list[int]) -> dict[int, DeliveryStatus]:
        mids = await asyncio.gather(*(self._mid_of(uid) for uid in uids))
        uid_of = {mid: uid for uid, mid in zip(uids, mids, strict=True) if mid}
        found: dict[int, DeliveryStatus] = {}
        known = list(uid_of)
        for start in range(0, len(known), MAX_IDS_PER_CALL):
            chunk = known[start : start + MAX_IDS_PER_CALL]
            answer = await self._http.request("GET", f"{API}/statuses/{','.join(map(str, chunk))}")
            if _error_code(answer.body) is not None:
                continue
            for report in json_objects(answer.body.get("dlrs")):
                mid = report.get("mid")
                if isinstance(mid, int) and mid in uid_of:
                    status = report.get("status")
                    found[uid_of[mid]] = (
                        _DELIVERY.get(status, DeliveryStatus.UNKNOWN)
                        if isinstance(status, int)
                        else DeliveryStatus.UNKNOWN
                    )
        return found

    async def _mid_of(self, uid: int) -> int | None:
        answer = await self._http.request("GET", f"{API}/mid/{uid}")
        if _error_code(answer.body) is not None:
            return None
        mid = answer.body.get("mid")
        return mid if isinstance(mid, int) and mid > 0 else None


def _error_code(body: object) -> int | None:
    """The request-level error code; -1 stands for an answer that is not Magfa's JSON at all."""
    if not isinstance(body, dict) or not isinstance(body.get("status"), int):
        return -1
    return body["status"] or None


def _entry_result(entry: dict, answer: HttpAnswer) -> SendResult:
    if entry.get("status") == 0 and entry.get("id"):
        return SendResult(SendOutcome.ACCEPTED, provider_message_id=str(entry["id"]))
    return _refusal(entry.get("status"), answer)


def _refusal(code: int | None, answer: HttpAnswer) -> SendResult:
    if code in _PERMANENT_ERRORS:
        return SendResult.permanent(f"magfa {code}: {_PERMANENT_ERRORS[code]}")
    return SendResult.retryable(f"magfa error {code} (HTTP {answer.status})")
