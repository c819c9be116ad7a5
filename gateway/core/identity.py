"""The recipient's identity inquiry, pure: the policy of a service, each inquiry service's verdict, how they combine
into the charge's verdict, what is kept of it, and the line the receipt carries.

Letter 100/15131 item 8 asks the office to look up and authenticate the recipient («استعلام و احراز اصالت
خدمت‌گیرنده»). Two services answer (gateway/identity/): the civil registry (an individual's registered name and whether
they are alive, by national code and birth date) and Shahkar (whether the mobile is registered to the recipient).
Only the verdicts, the providers' track ids and the time are kept: never the birth date, never the registered name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.core.jalali import format_utc


class IdentityPolicy(StrEnum):
    REQUIRED = "required"  # no answer or a mismatch refuses the charge
    ADVISORY = "advisory"  # the charge goes through; the receipt and the regulator see the result
    OFF = "off"  # no inquiry


class Verdict(StrEnum):
    MATCHED = "matched"
    MISMATCHED = "mismatched"
    UNAVAILABLE = "unavailable"  # no usable answer: timeout, fault, open circuit, malformed answer


class InquiryService(StrEnum):
    CIVIL_REGISTRY = "civil_registry"
    SHAHKAR = "shahkar"


_SERVICE_FA = {InquiryService.CIVIL_REGISTRY: "ثبت احوال", InquiryService.SHAHKAR: "شاهکار"}
_VERDICT_FA = {Verdict.MATCHED: "تطابق", Verdict.MISMATCHED: "مغایرت", Verdict.UNAVAILABLE: "بی‌پاسخ"}

# The receipt's line, in the words of letter 100/15131 item 8 («استعلام و احراز اصالت خدمت‌گیرنده») and of the
# Karpousheh directive (seed 004, art. 23: «در صورت مغایرت»).
RECEIPT_LABEL = "احراز اصالت خدمت‌گیرنده"
_NOT_REQUIRED = "برای این خدمت الزامی نیست"
# What a printed service receipt says when its service asks nobody (policy `off`: the signed receipt has no line).
NOT_ASKED_RECEIPT_VALUE = f"بدون استعلام؛ {_NOT_REQUIRED}"


@dataclass(frozen=True)
class InquiryResult:
    """One service's verdict. `reason` says what did not match (`name`, `deceased`, `not_found`, `mobile`) or why
    there was no answer; `track_id` is the provider's reference of the call, when it answered."""

    service: InquiryService
    verdict: Verdict
    track_id: str | None = None
    reason: str | None = None

    def to_document(self) -> dict[str, Any]:
        return {"service": self.service, "verdict": self.verdict, "track_id": self.track_id, "reason": self.reason}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> InquiryResult:
        return cls(InquiryService(doc["service"]), Verdict(doc["verdict"]), doc.get("track_id"), doc.get("reason"))


def combined_verdict(results: Iterable[InquiryResult]) -> Verdict:
    """A mismatch anywhere is a mismatch; otherwise a missing answer anywhere is unavailable."""
    verdicts = {result.verdict for result in results}
    if Verdict.MISMATCHED in verdicts:
        return Verdict.MISMATCHED
    if Verdict.UNAVAILABLE in verdicts:
        return Verdict.UNAVAILABLE
    return Verdict.MATCHED


@dataclass(frozen=True)
class IdentityCheck:
    """The inquiry made for one charge, as stored with it and signed into its receipt."""

    policy: IdentityPolicy
    results: tuple[InquiryResult, ...]
    checked_at: datetime

    @property
    def verdict(self) -> Verdict:
        return combined_verdict(self.results)

    @property
    def refuses(self) -> bool:
        return self.policy is IdentityPolicy.REQUIRED and self.verdict is not Verdict.MATCHED

    def receipt_value(self) -> str:
        """«تأیید با استعلام ثبت احوال و شاهکار» when every service matched. Otherwise (only an advisory policy
        lets such a charge through) each service with its verdict, and that a match is not required:
        «استعلام ثبت احوال: مغایرت، شاهکار: تطابق؛ تطابق برای این خدمت الزامی نیست»."""
        if self.verdict is Verdict.MATCHED:
            return "تأیید با استعلام " + " و ".join(_SERVICE_FA[result.service] for result in self.results)
        verdicts = "، ".join(f"{_SERVICE_FA[r.service]}: {_VERDICT_FA[r.verdict]}" for r in self.results)
        return f"استعلام {verdicts}؛ تطابق {_NOT_REQUIRED}"

    def to_document(self) -> dict[str, Any]:
        return {
            "policy": self.policy.value,
            "verdict": self.verdict.value,
            "results": [result.to_document() for result in self.results],
            "checked_at": format_utc(self.checked_at),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> IdentityCheck:
        return cls(
            IdentityPolicy(doc["policy"]),
            tuple(InquiryResult.from_document(result) for result in doc["results"]),
            datetime.fromisoformat(doc["checked_at"]),
        )
