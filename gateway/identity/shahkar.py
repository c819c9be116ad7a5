"""Shahkar (شاهکار), the mobile operators' register of who owns a line: is this mobile registered to this recipient?

The API spoken here (JSON, HTTP Basic credentials of the agency):
`POST /api/v1/shahkar/inquiry` with `{"requestId", "serviceNumber", "serviceType": 2, "identificationType",
"identificationNo", "nationality"?}` → `{"requestId", "response": 200, "result": "OK."}` when the line is the
recipient's, `{"requestId", "response": 600, "result": "NOK", "comment"}` when it is not. `serviceType` 2 is a mobile
line; `identificationType` is 0 for a national code, 1 for a passport (with its nationality), 5 for a legal person's
national ID and 6 for a foreign national identifier. The request id is ours, one per call, and is echoed.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from gateway.core.identity import InquiryResult, InquiryService, Verdict
from gateway.core.recipients import RecipientKind
from gateway.identity.base import IdentityAdapter, Subject
from gateway.messaging.http_transport import JsonHttpClient, TransportFault

MOBILE_LINE = 2
_IDENTIFICATION_TYPES = {RecipientKind.INDIVIDUAL: 0, RecipientKind.LEGAL_PERSON: 5, RecipientKind.FOREIGN_NATIONAL: 6}
PASSPORT = 1
_OWNER = 200
_NOT_OWNER = 600


class ShahkarInquiry(IdentityAdapter):
    service = InquiryService.SHAHKAR

    def __init__(self, base_url: str, username: str, password: str, timeout: float) -> None:
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._http = JsonHttpClient(base_url, timeout, headers={"Authorization": f"Basic {basic}"})

    def applies_to(self, subject: Subject) -> bool:
        return True

    def question(self, subject: Subject) -> tuple[str, ...]:
        return (subject.recipient.identifier, subject.mobile)

    async def inquire(self, subject: Subject) -> InquiryResult:
        request_id = uuid.uuid4().hex
        body: dict[str, Any] = {"requestId": request_id, "serviceNumber": subject.mobile, "serviceType": MOBILE_LINE}
        if subject.recipient.is_passport:
            nationality, _, passport = subject.recipient.identifier.partition(":")
            body |= {"identificationType": PASSPORT, "identificationNo": passport, "nationality": nationality}
        else:
            kind = _IDENTIFICATION_TYPES[subject.recipient.kind]
            body |= {"identificationType": kind, "identificationNo": subject.recipient.identifier}
        try:
            answer = await self._http.request("POST", "/api/v1/shahkar/inquiry", json=body)
        except TransportFault as fault:
            return self.unavailable(str(fault))
        reply = answer.body
        if answer.status != 200 or not isinstance(reply, dict) or reply.get("requestId") != request_id:
            return self.unavailable(f"HTTP {answer.status}: no answer to this inquiry")
        if reply.get("response") == _OWNER:
            return InquiryResult(self.service, Verdict.MATCHED, request_id)
        if reply.get("response") == _NOT_OWNER:
            return InquiryResult(self.service, Verdict.MISMATCHED, request_id, "mobile")
        return self.unavailable(f"unexpected response code {reply.get('response')!r}")

    async def close(self) -> None:
        await self._http.close()
