"""Completes an approved charge: signs its receipt at the office's next chain position and writes the charge,
the receipt, the chain head and the outbox rows in one statement (which also schedules the separate settle call
for PSPs that need one, so nothing is ever settled without a receipt), shared with the process's other completions
of the moment (gateway/charging/group_commit.py).

The chain head of each office is cached in memory and completions within one office are serialised by an
in-process lock, so the common case costs one round trip. Several gateway processes stay correct: the statement
only advances the head from the exact (seq, hash) it signed against, and a moved head means read, sign, retry.
A charge's insert also returns the head it saw (`note_head`): an office's requests reach whichever process or host
the balancer picks, and without it each process's cache would be behind by the receipts the others issued, so
about half of all completions would sign twice and write twice. Different offices never wait for each other.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.charging.group_commit import ChargeCompletions
from gateway.charging.store import ChainMoved, Completion, chain_head
from gateway.core.charge import Charge
from gateway.core.identifiers import make_tracking_code
from gateway.core.psp import PspReply
from gateway.core.registry import Registry
from gateway.messaging.sms_text import render_confirmation
from gateway.platform import metrics
from gateway.receipt_book.links import ReceiptLinks
from receipts.chain import IssuedReceipt, genesis_hash, issue_receipt
from receipts.model import ReceiptInput
from receipts.signing import Keyring

_MAX_CHAIN_RETRIES = 20


@dataclass(frozen=True)
class ChainedReceipt:
    """A signed receipt at its place in its office's chain: what the statement that stores it writes."""

    seq: int
    tracking_code: str
    prev_hash: str
    hash: str
    key_id: str
    signed: dict


class ReceiptIssuer:
    def __init__(self, keyring: Keyring, links: ReceiptLinks) -> None:
        self.keyring = keyring
        self.links = links
        self._heads: dict[str, tuple[int, str]] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def note_head(self, office_id: str, head: tuple[int, str] | None) -> None:
        """An office's chain head read elsewhere (None: no receipt yet); the cache only ever moves forward."""
        seen = head or (0, genesis_hash(office_id))
        cached = self._heads.get(office_id)
        if cached is None or cached[0] < seen[0]:
            self._heads[office_id] = seen

    async def complete(
        self,
        db,
        completions: ChargeCompletions,
        charge: Charge,
        reply: PspReply,
        registry: Registry,
        now: datetime,
    ) -> dict | None:
        """Returns the signed receipt, or None if the charge had already reached a final state elsewhere or was
        claimed by recovery since it was read (its `claim_epoch`). The office's chain head, when not cached, is read
        through `db`."""
        settle_at = now if registry.psps[charge.psp_id].capabilities.settle_is_separate else None

        def sign(seq: int, prev_hash: str, tracking_code: str) -> IssuedReceipt:
            return issue_receipt(
                self._receipt_input(charge, reply, registry, seq, prev_hash, tracking_code, now), self.keyring
            )

        async def write(receipt: ChainedReceipt) -> bool:
            completion = Completion(
                charge_id=charge.id,
                rrn=reply.rrn,
                auth_code=reply.auth_code,
                masked_pan=reply.masked_pan,
                completed_at=now,
                tracking_code=receipt.tracking_code,
                seq=receipt.seq,
                receipt_hash=receipt.hash,
                prev_hash=receipt.prev_hash,
                key_id=receipt.key_id,
                signed_receipt=receipt.signed,
                messages=self._messages(charge, registry, receipt.tracking_code),
                epoch=charge.claim_epoch,
                next_settle_at=settle_at,
            )
            return await completions.complete(completion)

        return await self.issue(db, charge.office_id, sign, write)

    async def issue(
        self,
        db,
        office_id: str,
        sign: Callable[[int, str, str], IssuedReceipt],
        write: Callable[[ChainedReceipt], Awaitable[bool]],
    ) -> dict | None:
        """Signs the office's next receipt (`sign(seq, prev_hash, tracking_code)`) and stores it with whatever
        it records (`write`, one statement that raises ChainMoved if the head moved, False if the write is no
        longer the caller's to make). Returns the signed receipt, or None when `write` said False."""
        async with self._locks[office_id]:
            for _ in range(_MAX_CHAIN_RETRIES):
                head = self._heads.get(office_id) or await self._read_head(db, office_id)
                seq, prev_hash = head[0] + 1, head[1]
                tracking_code = make_tracking_code(office_id, seq)
                issued = sign(seq, prev_hash, tracking_code)
                try:
                    written = await write(
                        ChainedReceipt(
                            seq,
                            tracking_code,
                            prev_hash,
                            issued.hash,
                            issued.signed["receipt"]["key_id"],
                            issued.signed,
                        )
                    )
                except ChainMoved:
                    metrics.RECEIPT_CHAIN_RETRIES.inc()
                    self._heads.pop(office_id, None)
                    continue
                if written:
                    self._heads[office_id] = (seq, issued.hash)
                    return issued.signed
                return None
        raise RuntimeError(f"office {office_id}: the receipt chain kept moving; the receipt was not issued")

    async def _read_head(self, db, office_id: str) -> tuple[int, str]:
        head = await chain_head(db, office_id)
        return head if head else (0, genesis_hash(office_id))

    @staticmethod
    def _receipt_input(
        charge: Charge, reply: PspReply, registry: Registry, seq: int, prev_hash: str, tracking_code: str, now: datetime
    ) -> ReceiptInput:
        office = registry.offices[charge.office_id]
        operator = registry.operators[charge.operator_id]
        service = registry.services[charge.service_code]
        return ReceiptInput(
            office_code=office.id,
            seq=seq,
            tracking_code=tracking_code,
            issued_at=now,
            service_code=service.code,
            service_name=service.name,
            recipient_name=charge.recipient.name,
            amount=charge.amount,
            licence_holder=office.licence_holder,
            licence_number=office.licence_number,
            operator_name=operator.name,
            operator_id=operator.id,
            office_address=office.address,
            terminal_id=charge.terminal_id,
            psp_id=charge.psp_id,
            rrn=reply.rrn or "",
            stan=charge.stan or "",
            masked_pan=reply.masked_pan or "",
            tariff_reference=charge.tariff_reference,
            breakdown=dict(charge.breakdown),
            charge_id=str(charge.id),
            prev_hash=prev_hash,
            authentication=charge.identity.receipt_value() if charge.identity is not None else None,
        )

    def _messages(self, charge: Charge, registry: Registry, tracking_code: str) -> list[dict]:
        """The SMS confirmation and the signed receipt for the citizen's Iran Poosheh inbox (the dispatcher reads the
        receipt by its tracking code, so the outbox row stays small). A recipient without an inbox (a foreign
        national known only by passport) gets the SMS alone."""
        office = registry.offices[charge.office_id]
        service = registry.services[charge.service_code]
        text = render_confirmation(
            service_name=service.name,
            amount=charge.amount,
            tracking_code=tracking_code,
            office_name=office.name,
            verify_base_url=self.links.public_base_url,
            link_secret=self.links.secret(tracking_code),
        )
        return recipient_messages(charge, registry, text, tracking_code, kind="")


def recipient_messages(charge: Charge, registry: Registry, text: str, tracking_code: str, *, kind: str) -> list[dict]:
    """The outbox rows that tell a charge's recipient of a receipt: `text` by SMS from the line (or mask) of the
    agency whose service it was, and the receipt `tracking_code` to their Iran Poosheh inbox when they have one.
    `kind` keeps each receipt's message ids apart ("" for the charge's own receipt, "void-" for its cancellation)."""
    office = registry.offices[charge.office_id]
    agency = registry.agencies[registry.services[charge.service_code].agency_id]
    messages = [
        {
            "channel": "sms",
            "message_id": f"sms-{kind}{charge.id.hex}",
            "recipient": charge.recipient.mobile,
            "payload": {"sender": agency.sms_line or office.sms_line, "mask": agency.sms_mask, "text": text},
        }
    ]
    inbox = charge.recipient.id.poosheh_address()
    if inbox is not None:
        messages.append(
            {
                "channel": "poosheh",
                "message_id": f"poosheh-{kind}{charge.id.hex}",
                "recipient": inbox,
                "payload": {"tracking_code": tracking_code},
            }
        )
    return messages
