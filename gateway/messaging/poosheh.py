"""Iran Poosheh (ایران پوشه), the citizen's electronic inbox: delivering signed receipts, checking printed ones.

An inbox is addressed `iran<national code>` for a person and `iran<national ID>` for a legal person (004 art.
3.5), `iran<foreign national identifier>` for a foreign national (gateway/core/recipients.py); counter offices are
among its agents (001 art. 7). The inbox deduplicates by our message id, so a delivery retried after a timeout
is stored once. It also answers whether a printed document is authentic (004 art. 15).

The API spoken here (REST/JSON, `Authorization: Bearer <token>`):
- `POST /api/v1/inboxes/{address}/documents` with `message_id`, `tracking_code`, `qr_payload`,
  `document` → 201 `{"document_id", "stored_at", "duplicate": false}`; 200 with the first answer
  and `"duplicate": true` when the message id was seen before.
- `GET /api/v1/authenticity?tracking_code=&qr_payload=` → `{"verdict": "authentic" | "mismatch" |
  "not_found", "document": {...} | null}`.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from urllib.parse import quote

from gateway.core.recipients import masked_identifier, parse_inbox_address
from gateway.messaging.http_transport import JsonHttpClient, TransportFault
from gateway.messaging.sms_providers import SendOutcome, SendResult, unavailable

log = logging.getLogger(__name__)

API = "/api/v1"


class AuthenticityVerdict(enum.StrEnum):
    AUTHENTIC = "authentic"  # the inbox holds this receipt (and the QR payload matches, when given)
    MISMATCH = "mismatch"  # the tracking code is known but the printed QR payload differs
    NOT_FOUND = "not_found"  # the inbox holds no receipt with this tracking code
    UNKNOWN = "unknown"  # no usable answer from the inbox


_INBOX_VERDICTS = {AuthenticityVerdict.AUTHENTIC, AuthenticityVerdict.MISMATCH, AuthenticityVerdict.NOT_FOUND}


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
        try:
            address = parse_inbox_address(address)
        except ValueError as error:
            return SendResult.permanent(f"no inbox address: {error}")
        try:
            answer = await self._http.request(
                "POST",
                f"{API}/inboxes/{quote(address)}/documents",
                json={
                    "message_id": message_id,
                    "tracking_code": tracking_code,
                    "qr_payload": qr_payload,
                    "document": document,
                },
            )
        except TransportFault as fault:
            result = SendResult.retryable(str(fault))
        else:
            result = unavailable(answer) or _stored_or_refused(answer.status, answer.body)
        if not result.accepted:
            log.warning(
                "poosheh delivery %s to %s not accepted: %s (%s)",
                message_id,
                masked_identifier(address),
                result.outcome,
                result.detail,
            )
        return result

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


def _stored_or_refused(status: int, body: object) -> SendResult:
    if status in (200, 201) and isinstance(body, dict) and body.get("document_id"):
        return SendResult(SendOutcome.ACCEPTED, provider_message_id=str(body["document_id"]))
    if status in (401, 403):
        return SendResult.retryable(f"HTTP {status}: the inbox refused our credentials")
    if 400 <= status < 500:
        return SendResult.permanent(f"HTTP {status}: the inbox refused the document")
    return SendResult.retryable(f"HTTP {status}: unexpected answer")
