"""How each outbox channel sends a batch of claimed messages: the SMS from the 4040 line, and the signed receipt
to the citizen's Iran Poosheh inbox. Each hands the whole batch to its adapter, which sends it in as few calls as the
provider's API allows (each message carries its own sender, so one call may mix agencies' lines and masks). A
channel answers one `SendResult` per message, in order; a fault, the provider's or ours (the database, a bug), is a
retryable result for the messages it touched, never an exception."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar, Protocol

from gateway.messaging import InboxDelivery, OutgoingSms, PooshehInbox, SendResult, SmsProvider
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


async def _guarded(
    messages: list[ClaimedMessage], send: Callable[[list[ClaimedMessage]], Awaitable[list[SendResult]]]
) -> list[SendResult]:
    try:
        return await send(messages)
    except Exception as error:
        log.exception("outbox: sending %d messages raised", len(messages))
        return [_fault(error)] * len(messages)


class SmsChannel:
    """Payload `{sender, mask, text}` (the agency's 4040 line and text mask, if it has one), recipient the mobile
    number. A provider that carries masks sends from the mask."""

    name: ClassVar[str] = "sms"
    reports_delivery: ClassVar[bool] = True

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    async def send_all(self, messages: list[ClaimedMessage]) -> list[SendResult]:
        return await _guarded(messages, self._send)

    async def _send(self, messages: list[ClaimedMessage]) -> list[SendResult]:
        return await self.provider.send_many(
            [
                OutgoingSms(
                    message.message_id,
                    sender=self.provider.sender_for(message.payload["sender"], message.payload.get("mask")),
                    recipient=message.recipient,
                    text=message.payload["text"],
                )
                for message in messages
            ]
        )


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
        return await _guarded(messages, lambda batch: self._send(batch, signed_by_code))

    async def _send(self, messages: list[ClaimedMessage], signed_by_code: dict[str, dict]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        deliveries: list[tuple[int, InboxDelivery]] = []
        for index, message in enumerate(messages):
            tracking_code = message.payload["tracking_code"]
            signed = signed_by_code.get(tracking_code)
            if signed is None:
                results[index] = SendResult.permanent(f"no receipt with tracking code {tracking_code}")
                continue
            deliveries.append(
                (
                    index,
                    InboxDelivery(
                        message.message_id, message.recipient, signed, tracking_code, self._qr_payload(signed)
                    ),
                )
            )
        delivered = await self.inbox.deliver_many([delivery for _, delivery in deliveries])
        results.update(zip((index for index, _ in deliveries), delivered, strict=True))
        return [results[index] for index in range(len(messages))]

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
