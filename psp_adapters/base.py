"""The one interface every PSP protocol adapter implements.

The gateway never speaks a PSP protocol itself: it builds the request values of `gateway.core.psp`, calls an
adapter, and reads back a `PspReply`.
"""

from __future__ import annotations

import abc

from gateway.core.psp import PspCapabilities, PspReply, PurchaseRequest, TxnRef


class PspAdapter(abc.ABC):
    """One PSP protocol. Instances are long-lived and safe for concurrent use."""

    protocol: str = ""

    def __init__(self, *, psp_id: str, endpoint: dict, capabilities: PspCapabilities, timeout: float) -> None:
        self.psp_id = psp_id
        self.endpoint = endpoint
        self.capabilities = capabilities
        self.timeout = timeout

    @abc.abstractmethod
    async def purchase(self, request: PurchaseRequest) -> PspReply:
        """Push the amount to the terminal and wait for the cardholder's outcome."""

    @abc.abstractmethod
    async def verify(self, ref: TxnRef) -> PspReply:
        """Confirm an approved purchase so the PSP does not auto-reverse it."""

    @abc.abstractmethod
    async def settle(self, ref: TxnRef) -> PspReply:
        """Ask for settlement (only called when capabilities.settle_is_separate)."""

    @abc.abstractmethod
    async def reverse(self, ref: TxnRef) -> PspReply:
        """Undo a purchase whose outcome the gateway will not complete."""

    @abc.abstractmethod
    async def refund(self, ref: TxnRef) -> PspReply:
        """Instruct the PSP to return a verified purchase's whole amount to the card through settlement, taking
        back every settlement row it paid (after the reversal window). Idempotent: the same purchase answers the
        same refund. An approval carries the refund's own RRN, which the PSP's settlement file lines carry."""

    @abc.abstractmethod
    async def inquire(self, ref: TxnRef) -> PspReply:
        """Ask what the PSP holds for this purchase; the answer is in `state`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""
