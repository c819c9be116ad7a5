"""Iran Poosheh (ایران پوشه), the citizen's electronic inbox: delivering signed receipts, checking printed ones.

An inbox is addressed `iran<national code>` for a person and `iran<national ID>` for a legal person (004 art.
3.5), `iran<foreign national identifier>` for a foreign national (gateway/core/recipients.py); counter offices are
among its agents (001 art. 7). The inbox deduplicates by our message id, so a delivery retried after a timeout
is stored once. It also answers whether a printed document is authentic (004 art. 15).

The API spoken here (REST/JSON, `Authorization: Bearer <token>`):
- `POST /api/v1/inboxes/{address}/documents` with `message_id`, `tracking_code`, `qr_payload`,
  `document` → 201 `{"document_id", "stored_at", "duplicate": false}`; 200 with the first answer
  and `"duplicate": true` when the message id was seen before.
- `POST /api/v1/documents/batch` with `{"deliveries": [...]}`, up to 100 deliveries shaped as above plus each
  one's inbox `address` → 200 `{"results": [...]}`, one per delivery in the order sent: `{"message_id", "status",
  ...}` where `status` is what the single delivery would have answered (201 stored, 200 duplicate with the first
  answer, even earlier in the same call; 404 no such inbox, 400 malformed) and the rest is its body. 400 refuses
  the whole call (malformed or too many). The adapter delivers through this call, even a single document.
- `GET /api/v1/authenticity?tracking_code=&qr_payload=` → `{"verdict": "authentic" | "mismatch" |
  "not_found", "document": {...} | null}`.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from gateway.core.recipients import masked_identifier, parse_inbox_address
from gateway.messaging.http_transport import JsonHttpClient, TransportFault, in_calls, json_objects
from gateway.messaging.sms_providers import SendOutcome, SendResult, unavailable

log = logging.getLogger(__name__)

API = "/api/v1"
MAX_DELIVERIES_PER_CALL = 100


class AuthenticityVerdict(enum.StrEnum):
    AUTHENTIC = "authentic"  # the inbox holds this receipt (and the QR payload matches, when given)
    MISMATCH = "mismatch"  # the tracking code is known but the printed QR payload differs
    NOT_FOUND = "not_found"  # the inbox holds no receipt with this tracking code
    UNKNOWN = "unknown"  # no usable answer from the inbox


_INBOX_VERDICTS = {AuthenticityVerdict.AUTHENTIC, AuthenticityVerdict.MISMATCH, AuthenticityVerdict.NOT_FOUND}


@dataclass(frozen=True)
class InboxDelivery:
    message_id: str  # our id, which the inbox deduplicates by
    address: str
    document: dict  # the signed receipt
    tracking_code: str
    qr_payload: str | None = None


@dataclass(frozen=True)
class Authenticity:
    verdict: AuthenticityVerdict
    document: dict | None = None  # the stored electronic receipt, to compare with the paper
    detail: str | None = None


class PooshehInbox:
    """The adapter. Long-lived, safe for concurrent use, one pooled session."""

    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self._http = JsonHttpClient(base_url, timeout, headers={"Authorization": f"Bearer {token}"})

    async def deliver(
        self, message_id: str, address: str, document: dict, *, tracking_code: str, qr_payload: str | None = None
    ) -> SendResult:
        """Store the signed receipt `document` in the inbox at `address`, keyed by `message_id`."""
        [result] = await self.deliver_many([InboxDelivery(message_id, address, document, tracking_code, qr_payload)])
        return result

    async def deliver_many(self, deliveries: list[InboxDelivery]) -> list[SendResult]:
        """Store signed receipts in their inboxes, up to 100 per call; one result per delivery, in order. A call
        without a usable answer (timeout, 5xx, 429) makes every delivery of it retryable."""
        results: dict[int, SendResult] = {}
        ready: list[tuple[int, dict]] = []
        for index, delivery in enumerate(deliveries):
            try:
                address = parse_inbox_address(delivery.address)
            except ValueError as error:
                results[index] = SendResult.permanent(f"no inbox address: {error}")
                continue
            ready.append(
                (
                    index,
                    {
                        "address": address,
                        "message_id": delivery.message_id,
                        "tracking_code": delivery.tracking_code,
                        "qr_payload": delivery.qr_payload,
                        "document": delivery.document,
                    },
                )
            )
        delivered = await in_calls([item for _, item in ready], MAX_DELIVERIES_PER_CALL, self._deliver_call)
        results.update(zip((index for index, _ in ready), delivered, strict=True))
        ordered = [results[index] for index in range(len(deliveries))]
        for delivery, result in zip(deliveries, ordered, strict=True):
            if not result.accepted:
                log.warning(
                    "poosheh delivery %s to %s not accepted: %s (%s)",
                    delivery.message_id,
                    masked_identifier(delivery.address),
                    result.outcome,
                    result.detail,
                )
        return ordered

    async def _deliver_call(self, batch: list[dict]) -> list[SendResult]:
        try:
            answer = await self._http.request("POST", f"{API}/documents/batch", json={"deliveries": batch})
        except TransportFault as fault:
            return [SendResult.retryable(str(fault))] * len(batch)
        if failure := unavailable(answer):
            return [failure] * len(batch)
        body = answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
        items = json_objects(body.get("results"))
        if len(items) != len(batch):
            # Our credentials refused, or the call itself refused: nothing was stored, and no single delivery was
            # judged, so none is given up on.
            return [SendResult.retryable(f"HTTP {answer.status}: the inbox did not take the call")] * len(batch)
        return [_item_result(sent["message_id"], item) for sent, item in zip(batch, items, strict=True)]

    async def check_authenticity(self, tracking_code: str, qr_payload: str | None = None) -> Authenticity:
        """Whether a printed receipt is one the inbox holds; UNKNOWN when the inbox cannot tell."""
        params = {"tracking_code": tracking_code}
        if qr_payload is not None:
            params["qr_payload"] = qr_payload
        try:
            answer = await self._http.request("GET", f"{API}/authenticity", params=params)
        except TransportFault as fault:
            return Authenticity(AuthenticityVerdict.UNKNOWN, detail=str(fault))
        body = answer.body
        verdict = body.get("verdict") if answer.status == 200 and isinstance(body, dict) else None
        if not isinstance(verdict, str) or verdict not in _INBOX_VERDICTS:
            return Authenticity(AuthenticityVerdict.UNKNOWN, detail=f"HTTP {answer.status}")
        document = body.get("document")
        return Authenticity(AuthenticityVerdict(verdict), document if isinstance(document, dict) else None)

    async def close(self) -> None:
        await self._http.close()


def _item_result(message_id: str, item: dict) -> SendResult:
    status = item.get("status")
    if item.get("message_id") != message_id or not isinstance(status, int):
        return SendResult.retryable(f"the inbox answered for {item.get('message_id')!r} in the place of {message_id}")
    return _stored_or_refused(status, item)


def _stored_or_refused(status: int, body: object) -> SendResult:
    if status in (200, 201) and isinstance(body, dict) and body.get("document_id"):
        return SendResult(SendOutcome.ACCEPTED, provider_message_id=str(body["document_id"]))
    if status in (401, 403):
        return SendResult.retryable(f"HTTP {status}: the inbox refused our credentials")
    if 400 <= status < 500:
        return SendResult.permanent(f"HTTP {status}: the inbox refused the document")
    return SendResult.retryable(f"HTTP {status}: unexpected answer")
