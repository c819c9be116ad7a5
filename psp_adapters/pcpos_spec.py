"""The cloud PC-POS HTTP API (protocol "pcpos-http"), shared by the adapter and the simulator.

Modelled on the central PC-POS services Iranian PSPs run (Saman Kish's SEP "Central PC-POS": an OAuth token, then
ReciveIdentifier, StartPayment and Inquery under /v1/PcPosTransaction): the cash register never talks to the
terminal; it asks the PSP's cloud to push an amount to a terminal it names, and the PSP answers once the
cardholder is done. Everything is JSON over HTTPS; names are PascalCase as in SEP's API; amounts are whole rials.

    POST /connect/token                         OAuth 2.0 client credentials (RFC 6749 §4.4): HTTP Basic with the
                                                client id and secret, form grant_type=client_credentials&scope=
                                                CentralPcPos → {"access_token", "token_type": "Bearer",
                                                "expires_in", "scope"}; 401 {"error": "invalid_client"}
Then, with `Authorization: Bearer <access_token>` (401 when it is missing, unknown or expired):
    POST /v1/PcPosTransaction/ReceiveIdentifier register one payment request: TerminalID, MerchantID, Amount,
                                                ResNum (the gateway's reference), TraceNumber (the gateway's STAN),
                                                TransmissionDateTime, SettlementIbanInfo [{IBAN, Amount, PaymentID}]
                                                (split settlement, تسهیم), UserNotifiable {PrintItems [{Item}]}
                                                (lines the terminal prints) → Data {Identifier, TerminalID, ResNum,
                                                ExpiresIn}. Nothing reaches the terminal yet. Registering the same
                                                TerminalID and ResNum again returns the same identifier.
    POST /v1/PcPosTransaction/StartPayment      {Identifier, TerminalID}: push the amount to the terminal and hold the
                                                request until the cardholder is done → Data: the transaction.
                                                An identifier must be started within ExpiresIn seconds; an expired or
                                                cancelled one answers 12.
    POST /v1/PcPosTransaction/Inquiry           {TerminalID, ResNum} → 00 and Data: the transaction (its State and the
                                                purchase's own ResponseCode), or 25 when the PSP holds no such purchase.
                                                A registered request that has not been started yet is "pending" until
                                                its identifier expires.
    POST /v1/PcPosTransaction/Verify            {TerminalID, ResNum, Amount}: confirm an approved purchase.
    POST /v1/PcPosTransaction/Settle            {TerminalID, ResNum, Amount}: settle a verified purchase.
    POST /v1/PcPosTransaction/Reverse           {TerminalID, ResNum, Amount}: undo a purchase. This is also how a
                                                pending request is cancelled: one not started yet is never pushed,
                                                one waiting for the cardholder is voided at the terminal.

Every answer, whatever its HTTP status (200, or 400 for a body that does not parse), is the envelope
    {"IsSuccess": bool, "ResultCode": "00", "ResultDescription": "...", "Data": {...} | null}
where ResultCode is the switch's two-digit response code (`psp_adapters.shetab`) for this request: the cardholder's
outcome for StartPayment, the PSP's "already verified" code for a repeated Verify, 25 for an unknown purchase, 30
for a body that does not parse. A transaction (Data) carries Identifier, TerminalID, MerchantID, ResNum,
TraceNumber (the STAN), Amount, State (pending, approved, verified, settled, declined, reversed), ResponseCode (the
purchase's code, null while pending), RRN, AuthCode, CardMaskNumber (first 6 and last 4 digits), CreateOn, UpdateOn.
Each request carries a fresh `X-Request-ID` header that the answer echoes, so a stray answer on a reused
connection can never be taken for another request's.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt
from pydantic.alias_generators import to_pascal

from gateway.core.psp import TxnState

TOKEN_PATH = "/connect/token"
_API = "/v1/PcPosTransaction"
IDENTIFIER_PATH = f"{_API}/ReceiveIdentifier"
START_PAYMENT_PATH = f"{_API}/StartPayment"
INQUIRY_PATH = f"{_API}/Inquiry"
VERIFY_PATH = f"{_API}/Verify"
SETTLE_PATH = f"{_API}/Settle"
REVERSE_PATH = f"{_API}/Reverse"
REFUND_PATH = f"{_API}/Refund"

SCOPE = "CentralPcPos"
GRANT_TYPE = "client_credentials"
REQUEST_ID_HEADER = "X-Request-ID"
MAX_AMOUNT = 10**12 - 1


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, frozen=True)

    def wire(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class SettlementIban(WireModel):
    iban: str = Field(alias="IBAN")
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT)
    payment_id: str = Field(alias="PaymentID")


class PrintItem(WireModel):
    item: str


class UserNotifiable(WireModel):
    print_items: tuple[PrintItem, ...] = ()


class IdentifierRequest(WireModel):
    terminal_id: str = Field(alias="TerminalID", min_length=1, max_length=8)
    merchant_id: str = Field(alias="MerchantID", min_length=1, max_length=15)
    amount: StrictInt = Field(ge=0, le=MAX_AMOUNT)
    res_num: str = Field(min_length=1, max_length=64)
    trace_number: str = Field(pattern=r"^\d{6}$")
    transmission_date_time: AwareDatetime
    settlement_iban_info: tuple[SettlementIban, ...] = ()
    user_notifiable: UserNotifiable = UserNotifiable()


class StartPaymentRequest(WireModel):
    identifier: str = Field(min_length=1)
    terminal_id: str = Field(alias="TerminalID", min_length=1, max_length=8)


class InquiryRequest(WireModel):
    terminal_id: str = Field(alias="TerminalID", min_length=1, max_length=8)
    res_num: str = Field(min_length=1, max_length=64)


class FollowUpRequest(InquiryRequest):
    """Verify, Settle and Reverse: the purchase by the gateway's reference, and its amount as a check."""

    amount: StrictInt = Field(ge=0, le=MAX_AMOUNT)


class Registration(WireModel):
    identifier: str = Field(min_length=1)
    terminal_id: str = Field(alias="TerminalID")
    res_num: str
    expires_in: StrictInt


class Transaction(WireModel):
    identifier: str
    terminal_id: str = Field(alias="TerminalID")
    merchant_id: str = Field(alias="MerchantID")
    res_num: str
    trace_number: str
    amount: StrictInt
    state: TxnState
    response_code: str | None = None
    rrn: str | None = Field(default=None, alias="RRN")
    auth_code: str | None = None
    card_mask_number: str | None = None
    refund_rrn: str | None = Field(default=None, alias="RefundRRN")  # the refund's own RRN, once refunded
    create_on: datetime
    update_on: datetime


class Envelope(WireModel):
    is_success: bool
    result_code: str = Field(pattern=r"^\d{2}$")
    result_description: str | None = None
    data: dict | None = None


class TokenGrant(BaseModel):
    """The token endpoint's answer, in OAuth's own snake_case names."""

    access_token: str = Field(min_length=1)
    token_type: str
    expires_in: StrictInt = Field(gt=0)
    scope: str | None = None
