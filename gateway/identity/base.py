"""The one small contract every identity inquiry adapter keeps (like the PSP adapters' `PspAdapter`).

An adapter asks one provider one question about a subject and judges the answer itself: it never raises for a
provider's answer or a network fault, it returns an `InquiryResult` whose verdict is `unavailable` (with the reason)
when there was no usable answer, so silence is never mistaken for a match or a mismatch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from gateway.core.identity import InquiryResult, InquiryService, Verdict
from gateway.core.recipients import RecipientId


@dataclass(frozen=True)
class Subject:
    """Who the office says the recipient is. The birth date travels to the civil registry and nowhere else."""

    name: str
    recipient: RecipientId
    mobile: str
    birth_date: str | None = None  # Jalali YYYY/MM/DD

    def __repr__(self) -> str:  # the birth date never reaches a log line
        return f"Subject(kind={self.recipient.kind}, birth_date={'given' if self.birth_date else None})"


class IdentityAdapter(ABC):
    service: ClassVar[InquiryService]

    @abstractmethod
    def applies_to(self, subject: Subject) -> bool:
        """Whether this provider can say anything about this subject (the civil registry knows only individuals)."""

    @abstractmethod
    def question(self, subject: Subject) -> tuple[str, ...]:
        """Everything the answer depends on: two subjects with the same question get the same answer (the cache
        keys on a keyed digest of it)."""

    @abstractmethod
    async def inquire(self, subject: Subject) -> InquiryResult:
        """The provider's verdict on the subject; never raises."""

    @abstractmethod
    async def close(self) -> None: ...

    def unavailable(self, reason: str) -> InquiryResult:
        return InquiryResult(self.service, Verdict.UNAVAILABLE, reason=reason)
