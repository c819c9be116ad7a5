"""Every error the gateway answers with, by name: one class per error code.

Each class carries the error's `type` and `code` of the shared shape `{"error": {"type", "code", "message", "param",
"details"}}`; the HTTP status of each is decided in one table at the HTTP edge (its errors module), so neither
the domain nor the service layer knows about HTTP. A refusal stored for an idempotent replay is rebuilt from its
body with `error_from_body`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

_BY_CODE: dict[str, type[GatewayError]] = {}


class GatewayError(Exception):
    type: ClassVar[str] = "api_error"
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "The gateway could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        self.param = param
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            if cls.code in _BY_CODE:
                raise TypeError(f"error code {cls.code!r} is named twice")
            _BY_CODE[cls.code] = cls

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "details": self.details,
            }
        }


def error_class(code: str) -> type[GatewayError]:
    """The class of an error code; KeyError for a code nobody named."""
    return _BY_CODE[code]


def all_error_classes() -> list[type[GatewayError]]:
    return [GatewayError, *_BY_CODE.values()]


def error_from_body(body: Mapping[str, Any]) -> GatewayError:
    """The error a stored answer body describes (the same class, message, param and details)."""
    error = body["error"]
    return error_class(error["code"])(error["message"], param=error.get("param"), details=error.get("details"))


# ------------------------------------------------------------------ the request itself


class InvalidRequest(GatewayError):
    type = "invalid_request_error"
    code = "invalid_request"
    default_message = "The request is not valid."


class BadRequest(InvalidRequest):
    """A request the HTTP server itself could not take (malformed, or cut short)."""

    code = "bad_request"
    default_message = "Bad request."


class Forbidden(InvalidRequest):
    """A path the HTTP server itself refuses."""

    code = "forbidden"
    default_message = "Forbidden."


class ParameterInvalid(InvalidRequest):
    code = "parameter_invalid"


class InvalidJson(InvalidRequest):
    code = "invalid_json"
    default_message = "The request body is not valid JSON."


class PaymentMethodInvalid(InvalidRequest):
    """Not a payment method word as the contract spells it (`card`): missing, empty, padded, another case."""

    code = "payment_method_invalid"
    default_message = 'payment_method must be exactly "card".'


class IdempotencyKeyMissing(InvalidRequest):
    code = "idempotency_key_missing"


class ObjectionRefused(InvalidRequest):
    """An objection that cannot be filed or decided: its seven days are over, it was filed already, it is decided."""

    code = "objection_refused"
    default_message = "This objection cannot be filed or decided."


class AttachmentRefused(InvalidRequest):
    code = "attachment_refused"
    default_message = "An attachment is a PDF, PNG or JPEG file within the size limit."


class ResourceMissing(InvalidRequest):
    code = "resource_missing"
    default_message = "No such resource."


class MethodNotAllowed(InvalidRequest):
    code = "method_not_allowed"
    default_message = "This method is not allowed on this path."


class RequestTooLarge(InvalidRequest):
    code = "request_too_large"
    default_message = "The request body is too large."


class HeadersTooLarge(InvalidRequest):
    code = "headers_too_large"
    default_message = "The request's headers are too large or too many."


class RequestTimeout(InvalidRequest):
    code = "request_timeout"
    default_message = "The request body did not arrive in time."


class UnsupportedMediaType(InvalidRequest):
    code = "unsupported_media_type"


class HttpRefused(InvalidRequest):
    """A refusal of the HTTP server itself, for a status no other class names."""

    code = "http_error"
    default_message = "Request refused."


class TerminalBusy(InvalidRequest):
    code = "terminal_busy"
    default_message = "The terminal is serving another card until its charge is final; try again when it is free."


class SettlementFileRejected(InvalidRequest):
    code = "file_rejected"


# ------------------------------------------------------------------ who is calling


class AuthenticationFailed(GatewayError):
    type = "authentication_error"
    code = "unauthorized"
    default_message = "Authentication is required."


class InvalidApiKey(AuthenticationFailed):
    code = "invalid_api_key"
    default_message = "The API key is not valid."


class SignatureRequired(AuthenticationFailed):
    code = "signature_required"


class SignatureMissing(AuthenticationFailed):
    code = "signature_missing"


class TimestampStale(AuthenticationFailed):
    code = "timestamp_stale"


class SignatureInvalid(AuthenticationFailed):
    code = "signature_invalid"
    default_message = "The request signature does not match."


class NonceReplayed(AuthenticationFailed):
    code = "nonce_replayed"
    default_message = "This nonce was already used: a request is accepted once."


class SignInRequired(AuthenticationFailed):
    code = "signin_required"
    default_message = "Sign in to open this page."


class SignInFailed(AuthenticationFailed):
    code = "signin_failed"
    default_message = "The username, password or code is not right."


class AccountLocked(AuthenticationFailed):
    code = "account_locked"
    default_message = "Too many failed attempts: this account is locked for a while."


class RateLimited(GatewayError):
    type = "rate_limit_error"
    code = "rate_limited"


# ------------------------------------------------------------------ what the caller may do


class PermissionDenied(GatewayError):
    type = "permission_error"
    code = "permission_denied"
    default_message = "This request is not allowed."


class CsrfTokenInvalid(PermissionDenied):
    """A form sent without the token of the page that showed it (or with a forged or stale one)."""

    code = "csrf_token_invalid"
    default_message = "The form has expired or did not come from this site; reload the page and send it again."


class RoleNotAllowed(PermissionDenied):
    code = "role_not_allowed"


class TerminalMismatch(PermissionDenied):
    code = "terminal_mismatch"
    default_message = "A terminal key can charge only on its own terminal."


class OfficeLicenseInactive(PermissionDenied):
    code = "office_license_inactive"


class OperatorNotInOffice(PermissionDenied):
    code = "operator_not_in_office"
    default_message = "The operator is not an active operator of this office."


class ServiceNotAssigned(PermissionDenied):
    code = "service_not_assigned"
    default_message = "This service is not assigned to the office."


class PspUnlicensed(PermissionDenied):
    code = "psp_unlicensed"
    default_message = "The terminal's PSP has no valid Central Bank licence today."


class IdempotencyKeyReused(GatewayError):
    type = "idempotency_error"
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request body."


# ------------------------------------------------------------------ the recipient's identity (docs/identity.md)


class IdentityRefusal(GatewayError):
    """The service's identity policy is `required` and the inquiry did not confirm the recipient."""

    type = "identity_error"


class IdentityMismatch(IdentityRefusal):
    code = "identity_mismatch"
    default_message = "The civil registry or Shahkar does not confirm the recipient; nothing was charged."


class IdentityUnavailable(IdentityRefusal):
    code = "identity_unavailable"
    default_message = (
        "The recipient could not be looked up and this service requires it; nothing was charged. "
        "Retry shortly with a new Idempotency-Key."
    )


# ------------------------------------------------------------------ the regulator's rules on money


class CashForbidden(GatewayError):
    type = "payment_method_error"
    code = "cash_forbidden"


class TariffRefusal(GatewayError):
    """A charge the approved tariffs do not allow."""

    type = "tariff_error"
    code = "tariff_refused"


class ExcessFee(TariffRefusal):
    code = "excess_fee"


class BelowGovernmentFee(TariffRefusal):
    code = "below_government_fee"


class InvalidAmount(TariffRefusal):
    code = "invalid_amount"


class InvalidQuantity(TariffRefusal):
    code = "invalid_quantity"


class UnknownExtra(TariffRefusal):
    code = "unknown_extra"


class DuplicateExtra(TariffRefusal):
    code = "duplicate_extra"


class NoTariff(TariffRefusal):
    code = "no_tariff"


class UnknownOfficeKind(TariffRefusal):
    code = "unknown_office_kind"


class SettlementRowsExceeded(TariffRefusal):
    code = "settlement_rows_exceeded"


# ------------------------------------------------------------------ what the card and the PSP answered


class CardError(GatewayError):
    type = "card_error"
    code = "card_error"


class CardDeclined(CardError):
    code = "card_declined"


class CancelledByCardholder(CardError):
    code = "cancelled_by_cardholder"


class PspError(GatewayError):
    """The PSP did not complete the payment and no money was taken."""

    type = "psp_error"
    code = "psp_error"
    default_message = "The PSP did not complete this payment; no money was taken."


class ChargeExpired(PspError):
    code = "charge_expired"


class ChargeReversed(PspError):
    code = "charge_reversed"


class ChargeFailed(PspError):
    code = "charge_failed"


# ------------------------------------------------------------------ voids


class VoidRefused(GatewayError):
    """A void the charge's state does not allow; nothing was sent to the PSP."""

    type = "invalid_request_error"
    code = "void_refused"
    default_message = "This charge cannot be voided."


class ChargeNotCompleted(VoidRefused):
    code = "charge_not_completed"
    default_message = "Only a completed charge can be voided."


class ChargeAlreadyVoided(VoidRefused):
    code = "charge_already_voided"
    default_message = "This charge is already voided, or a void of it is under way."


class VoidWindowClosed(VoidRefused):
    """The PSP no longer reverses this purchase: its money goes back by a refund through settlement."""

    code = "void_window_closed"
    default_message = "The PSP's reversal window for this charge has closed; the fee must be refunded instead."


# ------------------------------------------------------------------ the gateway's own state


class ServiceUnavailable(GatewayError):
    code = "service_unavailable"
    default_message = "The gateway cannot answer this right now; retry shortly."


class AccessLogUnavailable(GatewayError):
    code = "access_log_unavailable"
    default_message = "The query could not be recorded in the regulator access log; try again."


class InternalError(GatewayError):
    code = "internal_error"
    default_message = "The gateway could not complete the request; it is safe to retry with the same Idempotency-Key."


# ------------------------------------------------------------------ complaints


class ComplaintCodeInvalid(InvalidRequest):
    """Wrong, expired or used up: never says whether the tracking code or the mobile was the wrong part."""

    code = "complaint_code_invalid"
    default_message = (
        "The code is wrong or has expired; ask for a new one. / کد نادرست است یا منقضی شده است؛ کد تازه بخواهید."
    )


class RefundRefused(GatewayError):
    """A refund the charge's state does not allow; nothing was stored nor sent to the PSP."""

    type = "invalid_request_error"
    code = "refund_refused"
    default_message = "This charge cannot be refunded."


class ChargeAlreadyRefunded(RefundRefused):
    code = "charge_already_refunded"
    default_message = "This charge already has a refund; a charge is refunded once."


class VoidWindowOpen(RefundRefused):
    """The PSP still reverses this purchase: a void returns the money at once, with nothing to settle."""

    code = "void_window_open"
    default_message = "The PSP's reversal window for this charge is still open; void it instead."
