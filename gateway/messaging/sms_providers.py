"""The one interface every SMS provider adapter implements.

The outbox dispatcher calls `send_many` with a batch of messages keyed by its own message ids, and later `status`
with the same ids. Providers deduplicate by that id (Payam Iran `clientMessageId`, Magfa `uids`, Kavenegar
`localid`), so resending after a timeout or a lost answer never reaches the handset twice. Where the provider's API
takes many messages in one call, a batch goes out in calls of up to `max_batch` messages, each answered on its
own; a call that gets no usable answer (timeout, 5xx, 429) makes every message of it retryable. An adapter never
raises for a provider fault: every answer, or the lack of one, becomes a `SendResult` or a `DeliveryStatus`.
"""

from __future__ import annotations

import abc
import enum
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import ClassVar

from gateway.core.identifiers import parse_mobile
from gateway.messaging.http_transport import HttpAnswer, JsonHttpClient, TransportFault, in_calls

log = logging.getLogger(__name__)

# Agencies may send only from a dedicated line under the 4040 prefix (Payam-e Iran, 001 art. 3).
_LINE_4040 = re.compile(r"4040\d{1,10}")
_NUMERIC_ID = re.compile(r"[1-9]\d{0,17}")


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # the provider holds it, not yet handed to the operator
    SENT = "sent"  # the mobile operator has it
    DELIVERED = "delivered"  # reached the handset
    UNDELIVERED = "undelivered"  # the operator gave up reaching the handset
    FAILED = "failed"  # never reached the operator (refused, blocked, cancelled)
    UNKNOWN = "unknown"  # no usable answer, or the provider does not know the id


class SendOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    RETRYABLE = "retryable"  # send again later with the same message id
    PERMANENT = "permanent"  # this message can never be sent as it is


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    provider_message_id: str | None = None
    retry_after: float | None = None  # seconds, when the provider asked us to wait (429 Retry-After)
    detail: str | None = None  # a short note for logs

    @property
    def accepted(self) -> bool:
        return self.outcome is SendOutcome.ACCEPTED

    @classmethod
    def retryable(cls, detail: str, retry_after: float | None = None) -> SendResult:
        return cls(SendOutcome.RETRYABLE, retry_after=retry_after, detail=detail)

    @classmethod
    def permanent(cls, detail: str) -> SendResult:
        return cls(SendOutcome.PERMANENT, detail=detail)


@dataclass(frozen=True)
class OutgoingSms:
    message_id: str  # our id, which the provider deduplicates by
    sender: str
    recipient: str
    text: str


@dataclass(frozen=True)
class Submission:
    """One message as it goes to the provider: our id as the provider's numeric id, the recipient normalised."""

    uid: int
    sender: str
    mobile: str
    text: str


def unavailable(answer: HttpAnswer) -> SendResult | None:
    """The retryable result for a throttled (429) or failing (5xx) answer; None for any other answer."""
    if answer.status == 429:
        return SendResult.retryable("HTTP 429 throttled", retry_after=answer.retry_after)
    if answer.status >= 500:
        return SendResult.retryable(f"HTTP {answer.status}", retry_after=answer.retry_after)
    return None


def require_4040_line(sender: str) -> str:
    """The sender line, or ValueError when it is not a line under the 4040 prefix."""
    if not isinstance(sender, str) or not _LINE_4040.fullmatch(sender):
        raise ValueError(f"sender {sender!r} is not a line under the 4040 prefix")
    return sender


def provider_uid(message_id: str) -> int:
    """The numeric id providers deduplicate by, derived from our message id and stable across retries.

    Magfa `uids` and Kavenegar `localid` are 64-bit integers: a numeric message id is used as it is,
    any other id is hashed to a positive 63-bit number.
    """
    if _NUMERIC_ID.fullmatch(message_id):
        return int(message_id)
    digest = hashlib.blake2b(message_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


class SmsProvider(abc.ABC):
    """One provider's HTTP API. Instances are long-lived, safe for concurrent use, and share one session."""

    kind: ClassVar[str]
    max_batch: ClassVar[int] = 1  # messages per send call; 1 where the API has no multi-message send
    accepts_masks: ClassVar[bool] = False  # whether the provider carries an agency's text mask as the sender

    def __init__(self, http: JsonHttpClient) -> None:
        self._http = http

    def sender_for(self, line: str, mask: str | None) -> str:
        """What to send from: the agency's text mask where this provider carries masks, else its 4040 line."""
        return mask if mask is not None and self.accepts_masks else line

    def check_sender(self, sender: str) -> str:
        """The sender, or ValueError when this provider may not send from it."""
        return require_4040_line(sender)

    async def send(self, message_id: str, sender: str, recipient: str, text: str) -> SendResult:
        """Hand one message to the provider. Raises ValueError only for a sender it may not send from."""
        self.check_sender(sender)
        [result] = await self.send_many([OutgoingSms(message_id, sender, recipient, text)])
        return result

    async def send_many(self, messages: list[OutgoingSms]) -> list[SendResult]:
        """Hand messages to the provider, in as few calls as its API allows; one result per message, in order.
        A sender the provider may not send from, or a recipient that is no mobile number, is a permanent refusal
        of that message alone."""
        results: dict[int, SendResult] = {}
        ready: list[tuple[int, Submission]] = []
        for index, message in enumerate(messages):
            try:
                self.check_sender(message.sender)
            except ValueError as error:
                results[index] = SendResult.permanent(str(error))
                continue
            try:
                mobile = parse_mobile(message.recipient)
            except ValueError as error:
                results[index] = SendResult.permanent(f"invalid recipient: {error}")
                continue
            ready.append((index, Submission(provider_uid(message.message_id), message.sender, mobile, message.text)))
        sent = await in_calls([item for _, item in ready], self.max_batch, self._submit_call)
        results.update(zip((index for index, _ in ready), sent, strict=True))
        ordered = [results[index] for index in range(len(messages))]
        for message, result in zip(messages, ordered, strict=True):
            if not result.accepted:
                log.warning(
                    "sms %s via %s not accepted: %s (%s)", message.message_id, self.kind, result.outcome, result.detail
                )
        return ordered

    async def _submit_call(self, batch: list[Submission]) -> list[SendResult]:
        try:
            results = await self._submit(batch)
        except TransportFault as fault:
            return [SendResult.retryable(str(fault))] * len(batch)
        if len(results) != len(batch):  # an adapter bug; never let it pair a result with the wrong message
            raise RuntimeError(f"{self.kind}: {len(results)} results for {len(batch)} messages")
        return results

    async def status(self, message_ids: list[str]) -> dict[str, DeliveryStatus]:
        """The delivery status of each message id; UNKNOWN for any the provider could not tell about."""
        by_uid = {provider_uid(message_id): message_id for message_id in message_ids}
        statuses = dict.fromkeys(message_ids, DeliveryStatus.UNKNOWN)
        if not by_uid:
            return statuses
        try:
            found = await self._fetch_statuses(list(by_uid))
        except TransportFault as fault:
            log.warning("sms status via %s failed: %s", self.kind, fault)
            return statuses
        for uid, status in found.items():
            if uid in by_uid:
                statuses[by_uid[uid]] = status
        return statuses

    async def close(self) -> None:
        await self._http.close()

    @abc.abstractmethod
    async def _submit(self, batch: list[Submission]) -> list[SendResult]:
        """Send up to `max_batch` messages in one call, each keyed by its `uid`; one result per message, in order.
        May raise TransportFault."""

    @abc.abstractmethod
    async def _fetch_statuses(self, uids: list[int]) -> dict[int, DeliveryStatus]:
        """Statuses of the messages sent with these uids; may raise TransportFault."""
