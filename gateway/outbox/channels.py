"""How each outbox channel sends one claimed message: the SMS from the 4040 line, and the signed receipt to the
citizen's Iran Poosheh inbox. A channel never raises for a provider fault; it answers a `SendResult`."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar, Protocol

from gateway.messaging import PooshehInbox, SendResult, SmsProvider
from gateway.storage.outbox_store import ClaimedMessage
from gateway.storage.receipts_store import get_receipt
from receipts.qr import make_qr_payload
from receipts.signing import Keyring

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: ClassVar[str]
    # True when acceptance is followed by delivery reports to poll; False when acceptance is delivery itself.
    reports_delivery: ClassVar[bool]

    async def send(self, message: ClaimedMessage) -> SendResult: ...


class SmsChannel:
    """Payload `{sender, text}`, recipient the mobile number."""

    name = "sms"
    reports_delivery = True

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    async def send(self, message: ClaimedMessage) -> SendResult:
        try:
            return await self.provider.send(message.message_id, sender=message.payload["sender"],
                                            recipient=message.recipient, text=message.payload["text"])
        except ValueError as error:   # the sender line is not under 4040: no retry can change the stored row
            return SendResult.permanent(str(error))


class PooshehChannel:
    """Payload `{tracking_code}`, recipient the inbox address `iran<national code>`. The signed receipt is read
    from the receipts table and sent with its QR payload, so the inbox can vouch for the printed copy. `keyring`
    gives the signing keys in force, so keys added by rotation are used."""

    name = "poosheh"
    reports_delivery = False

    def __init__(self, inbox: PooshehInbox, pool, keyring: Callable[[], Keyring]) -> None:
        self.inbox = inbox
        self.pool = pool
        self.keyring = keyring

    async def send(self, message: ClaimedMessage) -> SendResult:
        tracking_code = message.payload["tracking_code"]
        receipt = await get_receipt(self.pool, tracking_code)
        if receipt is None:
            return SendResult.permanent(f"no receipt with tracking code {tracking_code}")
        signed = receipt["signed"]
        return await self.inbox.deliver(message.message_id, message.recipient.removeprefix("iran"), signed,
                                        tracking_code=tracking_code, qr_payload=self._qr_payload(signed))

    def _qr_payload(self, signed: dict) -> str | None:
        try:
            return make_qr_payload(signed, self.keyring())
        except KeyError:
            # This process lacks the key that signed the receipt; the inbox still gets the signed receipt itself.
            log.warning("no signing key %s here: receipt %s goes to the inbox without its QR payload",
                        signed["receipt"]["key_id"], signed["receipt"]["tracking_code"])
            return None
