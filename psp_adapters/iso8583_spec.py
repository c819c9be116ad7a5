"""The ISO 8583 (1987) dialect spoken between the gateway and PSP hosts, shared by the adapter and the simulator.

Messages (request → reply); every message concerns one purchase, so field 3 is "000000" and the MTI says what
is asked, except for the refund, which is a financial transaction of its own kind (processing code 20):
    0200 → 0210  purchase: the host pushes the amount to the terminal and answers once the cardholder is done
    0220 → 0230  advice, used as verify: confirms an approved purchase so the host does not reverse it
    0500 → 0510  settle one verified purchase (its own MTI, so it never shares a reply slot with a verify)
    0400 → 0410  reversal
    0600 → 0610  inquiry (administrative): what the host holds for a purchase
    0200 → 0210  with processing code 200000: refund (ISO 8583's "returns") of a purchase past its reversal
                 window, named in field 90; the reply's field 37 is the refund's own RRN
Follow-up messages carry the original purchase's STAN in field 11 and identify it in field 90.
Replies are matched to requests by (request MTI, terminal id, STAN).

Fields: 2 masked PAN (first 6 + last 4, `*` between), 3 processing code, 4 amount in rials (12 digits, no minor unit),
7 transmission date-time (UTC, MMDDhhmmss), 11 STAN, 12/13 local time/date (Tehran), 37 RRN, 38 auth code,
39 response code, 41 terminal id (8), 42 merchant id (15, space padded), 44 inquiry answer ("state" or
"state:original response code"), 48 the gateway's reference, 49 currency "364", 62 settlement rows
("iban;amount;payment_id" joined by "|"), 63 slip print lines, 90 original data elements.

Every field has the format ISO 8583:1987 gives it, exactly as pyiso8583's stock ASCII spec (`default_ascii`) has
it: the private fields 44, 48, 62 and 63 are LLLVAR or LLVAR text of ASCII characters (ans). Slip print lines may be
Persian, so field 63 carries them as UTF-8 percent-encoded (RFC 3986): printable ASCII stays as it is, every other
byte, the newline between lines included, is written `%XX`. None of the PSPs here deviates from 1987; one whose
host did (a four-digit length, another character set) would get a spec of its own beside `SPEC`, named by its
registry entry, and the reasons written there.

Response codes (field 39) are the switch's, listed in `psp_adapters.shetab`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import iso8583
from iso8583.specs import default_ascii

from gateway.core.jalali import TEHRAN
from gateway.core.psp import SettlementRow

PURCHASE = "0200"
VERIFY = "0220"
REVERSAL = "0400"
SETTLE = "0500"
INQUIRY = "0600"

PROCESSING_CODE = "000000"
REFUND_PROCESSING_CODE = "200000"
CURRENCY_RIAL = "364"


MAX_AMOUNT = 10**12 - 1
_ROW_SEPARATOR = "|"
_ROW_FIELD_SEPARATOR = ";"
_LINE_SEPARATOR = "\n"

# The stock 1987 ASCII spec; only the descriptions say what this dialect puts in its fields.
SPEC = copy.deepcopy(default_ascii)
for _field, _description in {
    "2": "Primary Account Number, masked: first 6 and last 4 digits, '*' between",
    "44": "Inquiry answer: ledger state[:original response code]",
    "48": "Gateway reference",
    "62": "Settlement rows: iban;amount;payment_id joined by |",
    "63": "Slip print lines, UTF-8 percent-encoded, %0A between lines",
}.items():
    SPEC[_field]["desc"] = _description
# Printable ASCII but the percent sign itself: what field 63 carries as it is.
_AS_IS = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) != "%")


def encode_message(fields: dict[str, str]) -> bytes:
    """The ISO 8583 bytes of one message; raises `iso8583.EncodeError` (a ValueError) for a field that does not fit."""
    encoded, _ = iso8583.encode(dict(fields), SPEC)
    return bytes(encoded)


def decode_message(payload: bytes) -> dict[str, str]:
    """The fields of one message; raises `iso8583.DecodeError` (a ValueError) for bytes that are not one."""
    fields, _ = iso8583.decode(payload, SPEC)
    fields.pop("p", None)
    fields.pop("1", None)
    return fields


def reply_mti(request_mti: str) -> str:
    return f"{int(request_mti) + 10:04d}"


def amount_field(amount: int) -> str:
    if not 0 < amount <= MAX_AMOUNT:
        raise ValueError(f"amount must be between 1 and {MAX_AMOUNT} rials, got {amount}")
    return f"{amount:012d}"


def transmission_field(moment: datetime) -> str:
    """Field 7 (and the date-time inside field 90): UTC MMDDhhmmss. A naive datetime is taken as UTC."""
    return _as_utc(moment).strftime("%m%d%H%M%S")


def local_time_fields(moment: datetime) -> dict[str, str]:
    """Fields 12 and 13: the moment on a Tehran clock."""
    local = _as_utc(moment).astimezone(TEHRAN)
    return {"12": local.strftime("%H%M%S"), "13": local.strftime("%m%d")}


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class OriginalData:
    mti: str
    stan: str
    transmitted: str  # field 7 of the original, MMDDhhmmss UTC


_NO_INSTITUTION = "0" * 11


def original_data_field(original: OriginalData) -> str:
    """Field 90: original MTI, STAN and transmission date-time, then acquiring and forwarding institution ids."""
    return f"{original.mti}{original.stan}{original.transmitted}{_NO_INSTITUTION}{_NO_INSTITUTION}"


def parse_original_data(value: str) -> OriginalData:
    if len(value) != 42 or not value.isdigit():
        raise ValueError("field 90 must be 42 digits")
    return OriginalData(mti=value[0:4], stan=value[4:10], transmitted=value[10:20])


def encode_settlement_rows(rows: tuple[SettlementRow, ...]) -> str:
    return _ROW_SEPARATOR.join(_ROW_FIELD_SEPARATOR.join((row.iban, str(row.amount), row.payment_id)) for row in rows)


def decode_settlement_rows(value: str) -> tuple[SettlementRow, ...]:
    """Raises ValueError for a row that is not `iban;amount;payment_id` with a positive integer amount."""
    rows = []
    for text in value.split(_ROW_SEPARATOR):
        iban, amount, payment_id = text.split(_ROW_FIELD_SEPARATOR)
        if not amount.isdigit() or int(amount) == 0:
            raise ValueError(f"settlement row amount must be a positive integer, got {amount!r}")
        rows.append(SettlementRow(iban=iban, amount=int(amount), payment_id=payment_id))
    return tuple(rows)


def encode_print_lines(lines: tuple[str, ...]) -> str:
    if any(_LINE_SEPARATOR in line for line in lines):
        raise ValueError("a print line cannot contain a newline")
    return quote(_LINE_SEPARATOR.join(lines), safe=_AS_IS)


def decode_print_lines(value: str) -> tuple[str, ...]:
    """Raises ValueError for a field that is not UTF-8 once its `%XX` are decoded."""
    return tuple(unquote(value, errors="strict").split(_LINE_SEPARATOR))
