"""Kavenegar's REST API (`/v1/{API-KEY}/{method}.json`, form-encoded parameters).

- `sms/send.json` with `receptor`, `sender`, `message` and `localid` (our id, which Kavenegar
  deduplicates by); the answer is `{"return": {"status", "message"}, "entries": [{"messageid", ...}]}`
  and `return.status` is 200 for success, else an error code that is also the HTTP status.
- `sms/statuslocalmessageid.json` with `localid` (comma-separated) reports each message's status.

The adapter sends one message per call. Kavenegar's multi-message send, `sms/sendarray.json` (parallel arrays
`receptor`, `sender`, `message`, `localmessageids`), is not used yet.
"""

from __future__ import annotations

from urllib.parse import quote

from gateway.messaging.http_transport import HttpAnswer, JsonHttpClient, json_objects
from gateway.messaging.sms_providers import (
    DeliveryStatus,
    SendOutcome,
    SendResult,
    SmsProvider,
    Submission,
    unavailable,
)

MAX_IDS_PER_CALL = 500

# Codes that refuse this message itself; any other (key, sender line, credit, server) is worth retrying.
_PERMANENT_ERRORS = {
    411: "invalid recipient",
    413: "message empty or too long",
    422: "message has characters that cannot be sent",
}

_DELIVERY = {
    1: DeliveryStatus.QUEUED,  # in the send queue
    2: DeliveryStatus.QUEUED,  # scheduled
    4: DeliveryStatus.SENT,  # handed to the operator
    5: DeliveryStatus.SENT,
    6: DeliveryStatus.FAILED,  # sending failed
    10: DeliveryStatus.DELIVERED,  # reached the recipient
    11: DeliveryStatus.UNDELIVERED,  # did not reach the recipient
    13: DeliveryStatus.FAILED,  # cancelled
    14: DeliveryStatus.FAILED,  # blocked by the recipient
    100: DeliveryStatus.UNKNOWN,  # unknown id
}


class KavenegarProvider(SmsProvider):
    kind = "kavenegar"

    def __init__(self, base_url: str, credentials: dict, timeout: float) -> None:
        # Every method's path follows the key.
        api_base = f"{base_url.rstrip('/')}/v1/{quote(credentials['api_key'], safe='')}"
        super().__init__(JsonHttpClient(api_base, timeout))

    async def _submit(self, batch: list[Submission]) -> list[SendResult]:
        [item] = batch  # max_batch is 1
        return [await self._submit_one(item)]

    async def _submit_one(self, item: Submission) -> SendResult:
        answer = await self._http.request(
            "POST",
            "/sms/send.json",
            data={"receptor": item.mobile, "sender": item.sender, "message": item.text, "localid": str(item.uid)},
        )
        if failure := unavailable(answer):
            return failure
        code = _return_status(answer)
        if code == 200:
            entry = (json_objects(answer.body.get("entries")) or [{}])[0]
            if entry.get("messageid"):
                return SendResult(SendOutcome.ACCEPTED, provider_message_id=str(entry["messageid"]))
        if code in _PERMANENT_ERRORS:
            return SendResult.permanent(f"kavenegar {code}: {_PERMANENT_ERRORS[code]}")
        return SendResult.retryable(f"kavenegar status {code} (HTTP {answer.status})")

    async def _fetch_statuses(self, uids: list[int]) -> dict[int, DeliveryStatus]:
        found: dict[int, DeliveryStatus] = {}
        for start in range(0, len(uids), MAX_IDS_PER_CALL):
            chunk = uids[start : start + MAX_IDS_PER_CALL]
            answer = await self._http.request(
                "POST", "/sms/statuslocalmessageid.json", data={"localid": ",".join(map(str, chunk))}
            )
            if _return_status(answer) != 200:
                continue
            for entry in json_objects(answer.body.get("entries")):
                localid = str(entry.get("localid", ""))
                if localid.isdigit():
                    status = entry.get("status")
                    found[int(localid)] = (
                        _DELIVERY.get(status, DeliveryStatus.UNKNOWN)
                        if isinstance(status, int)
                        else DeliveryStatus.UNKNOWN
                    )
        return found


def _return_status(answer: HttpAnswer) -> int:
    """`return.status` of the answer; -1 stands for an answer that is not Kavenegar's JSON at all."""
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("return"), dict):
        status = body["return"].get("status")
        if isinstance(status, int):
            return status
    return -1
