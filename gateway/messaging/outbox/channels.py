"""How each outbox channel sends a batch of claimed messages: the SMS from the 4040 line, and the signed receipt
to the citizen's Iran Poosheh inbox. A channel answers one `SendResult` per message, in order; a fault, the
provider's or ours (the database, a bug), is a retryable result for the messages it touched, never an exception."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar, Protocol

from gateway.messaging import PooshehInbox, SendResult, SmsProvider
from gateway.messaging.outbox.store import ClaimedMessage
from gateway.receipt_book.store import signed_receipts
from receipts.qr import make_qr_payload
from receipts.signing import Keyring

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: ClassVar[str]
    # True when acceptance is followed by delivery reports to poll; False when acceptance is delivery itself.
    reports_delivery: ClassVar[bool]

    async def send_all(self, messages: list[ClaimedMessage]) -> list[SendResult]: ...


def _fault(error: Exception) -> SendResult:
    return SendResult.retryable(f"{type(error).__name__}: {error}")


async def _send_each(
    messages: list[ClaimedMessage], send: Callable[[ClaimedMessage], Awaitable[SendResult]]
) -> list[SendResult]:
    """Sends the messages concurrently, each on its own."""

    async def guarded(message: ClaimedMessage) -> SendResult:
        try:
            return await send(message)
        except Exception as error:
            log.exception("outbox message %s: sending raised", message.message_id)
            return _fault(error)

    return list(await asyncio.gather(*(guarded(message) for message in messages)))


class SmsChannel:
    """Payload `{sender, mask, text}` (the agency's 4040 line and text mask, if it has one), recipient the mobile
    number. A provider that carries masks sends from the mask."""

    name: ClassVar[str] = "sms"
    reports_delivery: ClassVar[bool] = True

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    async def send_all(self, messages: list[ClaimedMessage]) -> list[SendResult]:
        return await _send_each(messages, self._send)

    async def _send(self, message: ClaimedMessage) -> SendResult:
        try:
            return await self.provider.send(
                message.message_id,
                sender=self.provider.sender_for(message.payload["sender"], message.payload.get("mask")),
                recipient=message.recipient,
                text=message.payload["text"],
            )
        except ValueError as error:  # the sender line is not under 4040: no retry can change the stored row
            return SendResult.permanent(str(error))


class PooshehChannel:
    """Payload `{tracking_code}`, recipient the inbox address (`iran<identifier>`). The signed receipt is read
    from the receipts table and sent with its QR payload, so the inbox can vouch for the printed copy. `keyring`
    gives the signing keys in force, so keys added by rotation are used."""

    name: ClassVar[str] = "poosheh"
    reports_delivery: ClassVar[bool] = False

    def __init__(self, inbox: PooshehInbox, pool, keyring: Callable[[], Keyring]) -> None:
        self.inbox = inbox
        self.pool = pool
        self.keyring = keyring

    async def send_all(self, messages: list[ClaimedMessage]) -> list[SendResult]:
        try:
            signed_by_code = await signed_receipts(self.pool, [m.payload["tracking_code"] for m in messages])
        except Exception as error:
            log.exception("outbox: reading %d receipts for the inbox failed", len(messages))
            return [_fault(error)] * len(messages)
        return await _send_each(messages, lambda message: self._send(message, signed_by_code))

    async def _send(self, message: ClaimedMessage, signed_by_code: dict[str, dict]) -> SendResult:
        tracking_code = message.payload["tracking_code"]
        signed = signed_by_code.get(tracking_code)
        if signed is None:
            return SendResult.permanent(f"no receipt with tracking code {tracking_code}")
        return await self.inbox.deliver(
            message.message_id,
            message.recipient,
            signed,
            tracking_code=tracking_code,
            qr_payload=self._qr_payload(signed),
        )

    def _qr_payload(self, signed: dict) -> str | None:
        try:
            return make_qr_payload(signed, self.keyring())
        except KeyError:
            # This process lacks the key that signed the receipt; the inbox still gets the signed receipt itself.
            log.warning(
                "no signing key %s here: receipt %s goes to the inbox without its QR payload",
                signed["receipt"]["key_id"],
                signed["receipt"]["tracking_code"],
            )
            return None
