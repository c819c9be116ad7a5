"""The civil registry's person inquiry (استعلام ثبت احوال), through a KYC provider's REST API.

The shape is the one the Iranian KYC providers publish:
- `POST /oauth2/token` with HTTP Basic client credentials and `grant_type=client_credentials` →
  `{"access_token", "token_type": "Bearer", "expires_in"}`; the token is kept until shortly before it expires, and
  fetched again once when a call is answered 401;
- `GET /kyc/v2/clients/{client_id}/identityInquiry?nationalCode=&birthDate=YYYY/MM/DD&trackId=` with the bearer
  token → `{"trackId", "status": "DONE", "result": {"nationalCode", "firstName", "lastName", "isAlive"}}`, or
  `{"trackId", "status": "FAILED", "error": {"code", "message"}}` with `NATIONAL_CODE_NOT_FOUND` or
  `BIRTH_DATE_MISMATCH`. The caller picks the track id (a UUID per call); the provider echoes it.

The verdict: matched when the registry holds the person, alive, under the name the office typed (up to spelling
variants, gateway/core/names.py); mismatched when it does not; unavailable for anything else. The registered name
is compared and dropped, never kept.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

from gateway.core.clock import Clock, system_clock
from gateway.core.identity import InquiryResult, InquiryService, Verdict
from gateway.core.names import name_key, names_match
from gateway.core.recipients import RecipientKind
from gateway.identity.base import IdentityAdapter, Subject
from gateway.messaging.http_transport import HttpAnswer, JsonHttpClient, TransportFault

_MISMATCH_CODES = {"NATIONAL_CODE_NOT_FOUND": "not_found", "BIRTH_DATE_MISMATCH": "birth_date"}
_TOKEN_MARGIN_S = 30.0


class CivilRegistryInquiry(IdentityAdapter):
    service = InquiryService.CIVIL_REGISTRY

    def __init__(self, base_url: str, client_id: str, client_secret: str, timeout: float, clock: Clock = system_clock):
        self._client_id = client_id
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token_client = JsonHttpClient(base_url, timeout, headers={"Authorization": f"Basic {basic}"})
        self._api = JsonHttpClient(base_url, timeout)
        self._clock = clock
        self._token: tuple[str, float] | None = None  # (token, expires at, in clock seconds)
        self._token_lock = asyncio.Lock()

    def applies_to(self, subject: Subject) -> bool:
        return subject.recipient.kind is RecipientKind.INDIVIDUAL

    def question(self, subject: Subject) -> tuple[str, ...]:
        return (subject.recipient.identifier, subject.birth_date or "", name_key(subject.name))

    async def inquire(self, subject: Subject) -> InquiryResult:
        if subject.birth_date is None:
            return self.unavailable("no birth date")
        track_id = str(uuid.uuid4())
        params = {"nationalCode": subject.recipient.identifier, "birthDate": subject.birth_date, "trackId": track_id}
        try:
            answer = await self._authorised_get(f"/kyc/v2/clients/{self._client_id}/identityInquiry", params)
        except TransportFault as fault:
            return self.unavailable(str(fault))
        return self._judge(answer, subject, track_id)

    async def _authorised_get(self, path: str, params: dict[str, str]) -> HttpAnswer:
        for fresh in (False, True):
            token = await self._access_token(fresh)
            if token is None:
                return HttpAnswer(401, None, None)
            answer = await self._api.request("GET", path, params=params, headers={"Authorization": f"Bearer {token}"})
            if answer.status != 401:
                return answer
        return answer

    async def _access_token(self, fresh: bool) -> str | None:
        async with self._token_lock:
            now = self._clock().timestamp()
            if not fresh and self._token is not None and self._token[1] > now:
                return self._token[0]
            answer = await self._token_client.request(
                "POST", "/oauth2/token", data={"grant_type": "client_credentials"}
            )
            body = answer.body
            if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
                self._token = None
                return None
            lifetime = body.get("expires_in")
            lifetime = float(lifetime) if isinstance(lifetime, int | float) else 0.0
            self._token = (body["access_token"], now + max(lifetime - _TOKEN_MARGIN_S, 0.0))
            return self._token[0]

    def _judge(self, answer: HttpAnswer, subject: Subject, track_id: str) -> InquiryResult:
        body: Any = answer.body
        if not isinstance(body, dict) or body.get("trackId") != track_id:
            return self.unavailable(f"HTTP {answer.status}: no answer to this inquiry")
        if body.get("status") == "FAILED":
            error = body.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            if code in _MISMATCH_CODES:
                return InquiryResult(self.service, Verdict.MISMATCHED, track_id, _MISMATCH_CODES[code])
            return self.unavailable(f"HTTP {answer.status}: provider error {code}")
        result = body.get("result")
        if answer.status != 200 or body.get("status") != "DONE" or not isinstance(result, dict):
            return self.unavailable(f"HTTP {answer.status}: unexpected answer")
        first, last, alive = result.get("firstName"), result.get("lastName"), result.get("isAlive")
        if not isinstance(first, str) or not isinstance(last, str) or not isinstance(alive, bool):
            return self.unavailable("malformed person record")
        if not alive:
            return InquiryResult(self.service, Verdict.MISMATCHED, track_id, "deceased")
        if not names_match(subject.name, f"{first} {last}"):
            return InquiryResult(self.service, Verdict.MISMATCHED, track_id, "name")
        return InquiryResult(self.service, Verdict.MATCHED, track_id)

    async def close(self) -> None:
        await self._token_client.close()
        await self._api.close()
