"""The regulator's oversight queries in the OpenAPI document."""

from __future__ import annotations

from gateway.oversight.catalog import VIOLATION_TYPES
from gateway.web.listing import MAX_PAGE
from gateway.web.openapi.shapes import COUNT, errors, json_or_csv, operation, query
from gateway.web.routes.regulator import DEFAULT_PAGE, MAX_RECEIPT_PAGE, RECEIPT_PAGE

_FILTERS = [
    query("from", {"type": "string"}, "inclusive: an RFC 3339 instant, or a Tehran day YYYY-MM-DD / YYYY/MM/DD"),
    query("to", {"type": "string"}, "exclusive: an RFC 3339 instant, or a Tehran day (included whole)"),
    query("office_id", {"type": "string", "pattern": "^[0-9]{8}$"}, "one office"),
    query("province", {"type": "string"}, "the offices of one province, as the registry names it"),
    query("type", {"type": "string"}, f"comma-separated finding types: {', '.join(VIOLATION_TYPES)}"),
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"page size, {DEFAULT_PAGE} unless given"),
    query("cursor", {"type": "string"}, "the next_cursor of the previous page"),
    query("format", {"enum": ["json", "csv"]}, "csv: the whole list from `cursor` on (or send Accept: text/csv)"),
]


def _list_of(item: dict) -> dict:
    return {
        "type": "object",
        "required": ["object", "data", "has_more", "next_cursor", "detected_through"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
            "detected_through": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "findings are complete up to this instant",
            },
            "filters": {"type": "object"},
        },
    }


def _read(summary: str, schema: dict, parameters: list) -> dict:
    return operation(
        summary, {"200": json_or_csv(schema, "JSON, or CSV"), **errors(400, 401, 403, 404)}, parameters=parameters
    )


_SUMMARY_ROW = {
    "type": "object",
    "properties": {
        "office_id": {"type": "string"},
        "office_name": {"type": ["string", "null"]},
        "province": {"type": ["string", "null"]},
        "operator_id": {"type": ["string", "null"]},
        "service_code": {"type": ["string", "null"]},
        "findings": COUNT,
        **dict.fromkeys(VIOLATION_TYPES, COUNT),
        "set_aside": {
            **COUNT,
            "description": "findings set aside by an upheld objection: in none of the other counts and sums",
        },
        "refused_over_cap": {**COUNT, "description": "rials asked over the cap in refused attempts"},
        "collected_over_cap": {**COUNT, "description": "rials taken over one cap by split charging"},
        "offbook_amount": {**COUNT, "description": "rials taken on the office's terminals outside the gateway"},
        "first_at": {"type": "string"},
        "last_at": {"type": "string"},
    },
}
_REFUSAL = {
    "type": "object",
    "required": ["id", "office_id", "terminal_id", "reason", "created_at"],
    "properties": {
        "id": COUNT,
        "office_id": {"type": "string"},
        "terminal_id": {"type": "string"},
        "operator_id": {"type": ["string", "null"]},
        "service_code": {"type": ["string", "null"]},
        "reason": {"type": "string", "description": "the error code the request was answered with"},
        "requested": {"type": ["integer", "null"]},
        "cap": {"type": ["integer", "null"]},
        "excess": {"type": ["integer", "null"]},
        "payment_method": {"type": ["string", "null"], "description": "as sent"},
        "tariff_reference": {"type": ["string", "null"]},
        "details": {"type": "object"},
        "created_at": {"type": "string"},
    },
}

_VIOLATION = {
    "type": "object",
    "properties": {
        "id": COUNT,
        "object": {"const": "violation"},
        "office_id": {"type": "string"},
        "type": {"enum": list(VIOLATION_TYPES)},
        "obligation": {"type": "string"},
        "label_fa": {"type": "string"},
        "money_collected": {"type": "boolean"},
        "occurred_at": {"type": "string", "format": "date-time"},
        "period": {"type": "string"},
        "amount": {"type": ["integer", "null"]},
        "excess": {"type": ["integer", "null"]},
        "evidence_key": {"type": "string"},
        "evidence": {"type": "object"},
        "set_aside": {
            "type": "boolean",
            "description": "set aside by an upheld objection: listed, but left out of counts, scorecards and penalties",
        },
        "set_aside_at": {"type": ["string", "null"], "format": "date-time"},
        "set_aside_objection_id": {"type": ["integer", "null"], "description": "the upheld objection"},
    },
}
_SCORECARD = {
    "type": "object",
    "required": ["office", "period", "indicators", "penalties"],
    "properties": {
        "object": {"const": "scorecard"},
        "office": {"type": "object"},
        "period": {"type": "object"},
        "detected_through": {"type": ["string", "null"]},
        "activity": {"type": "object"},
        "negative_indicators": COUNT,
        "indicators": {"type": "array", "items": {"type": "object"}},
        "penalties": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "obligation": {"type": "string"},
                    "stage": COUNT,
                    "suggested": COUNT,
                    "year_cap": COUNT,
                    "limited_by_cap": {"type": "boolean"},
                    "arithmetic": {"type": "array", "items": {"type": "string"}},
                    "arithmetic_fa": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "the same lines in Persian, as the pages show them",
                    },
                    "earlier_stages": {"type": "array"},
                },
            },
        },
        "penalty_rules": {"type": "object"},
    },
}


_VOID_FILTERS = [item for item in _FILTERS if item["name"] != "type"]
_VOID_PROPERTIES: dict[str, dict] = {
    "id": {"type": "string", "format": "uuid"},
    "object": {"const": "void"},
    "office_id": {"type": "string"},
    "charge_id": {"type": "string", "format": "uuid"},
    "tracking_code": {"type": "string"},
    "amount": COUNT,
    "reason": {"type": "string"},
    "reason_text": {"type": "string"},
    "status": {"enum": ["requested", "sent", "reversed", "refused"]},
    "cancellation_tracking_code": {"type": ["string", "null"]},
    "requested_at": {"type": "string", "format": "date-time"},
}
_VOID = {
    "type": "object",
    "properties": {**_VOID_PROPERTIES, "finalized_at": {"type": ["string", "null"], "format": "date-time"}},
}
_REFUND = {
    "type": "object",
    "properties": {
        **_VOID_PROPERTIES,
        "object": {"const": "refund"},
        "status": {"enum": ["requested", "sent", "instructed", "settled", "failed"]},
        "rrn": {"type": ["string", "null"]},
        "instructed_at": {"type": ["string", "null"], "format": "date-time"},
        "settled_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_OFFICE_ID = {
    "name": "office_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{8}$"},
}
_PAGING = _FILTERS[-3:]
_DAY_RANGE = [
    query("from", {"type": "string"}, "inclusive: an RFC 3339 instant or a Tehran day; with `to`, or neither (today)"),
    query("to", {"type": "string"}, "exclusive: an RFC 3339 instant, or a Tehran day (included whole)"),
]
_OFFICE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "office"},
        "name": {"type": "string"},
        "kind": {"enum": ["counter", "rural_ict"]},
        "province": {"type": "string"},
        "city": {"type": "string"},
        "status": {"enum": ["active", "suspended", "revoked"]},
        "licence_holder": {"type": "string"},
        "licence_number": {"type": "string"},
        "licence_valid_from": {"type": "string", "format": "date"},
        "licence_valid_to": {"type": "string", "format": "date"},
        "licence_active": {"type": "boolean", "description": "active and within its dates today (Tehran)"},
        "terminals": COUNT,
        "psps": {"type": "array", "items": {"type": "string"}},
        "findings": {
            **COUNT,
            "description": "findings in [from, to) (all time when neither is given), less those set aside by an upheld "
            "objection",
        },
    },
}
_CHARGE_ROW = {
    "type": "object",
    "description": "a charge in any state, without the recipient's personal data",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "object": {"const": "charge"},
        "created_at": {"type": "string", "format": "date-time"},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
        "terminal_id": {"type": "string"},
        "psp_id": {"type": "string"},
        "operator_id": {"type": "string"},
        "service_code": {"type": "string"},
        "quantity": COUNT,
        "amount": {**COUNT, "description": "rials"},
        "breakdown": {"type": "object"},
        "tariff_reference": {"type": "string"},
        "status": {"type": "string"},
        "decline_code": {"type": ["string", "null"]},
        "tracking_code": {"type": ["string", "null"]},
        "masked_pan": {"type": ["string", "null"]},
        "rrn": {"type": ["string", "null"]},
    },
}
_REFUSAL_ROW = {
    "type": "object",
    "description": "a refused attempt: its kind (`reason`), what was asked and the cap",
    "properties": {
        "id": COUNT,
        "object": {"const": "refusal"},
        "created_at": {"type": "string", "format": "date-time"},
        "terminal_id": {"type": "string"},
        "operator_id": {"type": ["string", "null"]},
        "service_code": {"type": ["string", "null"]},
        "reason": {"type": "string", "description": "the error code the attempt was refused with"},
        "requested": {"type": ["integer", "null"]},
        "cap": {"type": ["integer", "null"]},
        "excess": {"type": ["integer", "null"]},
        "payment_method": {"type": ["string", "null"]},
        "tariff_reference": {"type": ["string", "null"]},
        "details": {"type": "object"},
    },
}


def _office_paths() -> dict:
    return {
        "/v1/regulator/offices": {
            "get": _read(
                "Offices in the caller's scope: licence, terminals, PSPs and findings",
                _list_of(_OFFICE),
                [
                    *_FILTERS[:2],
                    query("province", {"type": "string"}, "the offices of one province, as the registry names it"),
                    query("kind", {"enum": ["counter", "rural_ict"]}, "one kind of office"),
                    query("status", {"enum": ["active", "suspended", "revoked"]}, "one licence status"),
                    *_PAGING,
                ],
            )
        },
        "/v1/regulator/offices/{office_id}/charges": {
            "get": _read(
                "An office's charges (every state), by default today's",
                _list_of(_CHARGE_ROW),
                [_OFFICE_ID, *_DAY_RANGE, *_PAGING],
            )
        },
        "/v1/regulator/offices/{office_id}/refusals": {
            "get": _read(
                "An office's refused attempts (every kind), by default today's",
                _list_of(_REFUSAL_ROW),
                [_OFFICE_ID, *_DAY_RANGE, *_PAGING],
            )
        },
        "/v1/regulator/offices/{office_id}/receipts": {
            "get": operation(
                "An office's signed receipts as JSON lines, in chain order (verify with `pishkhan receipts verify`)",
                {
                    "200": {
                        "description": "one signed receipt a line; a full page names the next in "
                        '`Link: <...>; rel="next"` and `Pishkhan-Next-From-Seq`',
                        "content": {"application/jsonl": {"schema": {"type": "string"}}},
                    },
                    **errors(400, 401, 403, 404),
                },
                parameters=[
                    _OFFICE_ID,
                    query("from_seq", {"type": "integer", "minimum": 1}, "the first sequence number, 1 unless given"),
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_RECEIPT_PAGE},
                        f"receipts a page, {RECEIPT_PAGE} unless given",
                    ),
                ],
            )
        },
    }


def regulator_paths() -> dict:
    return {
        **_office_paths(),
        "/v1/regulator/excess-fees": {
            "get": _read(
                "Findings counted per office, operator and service, with the rials over the cap",
                _list_of(_SUMMARY_ROW),
                _FILTERS,
            )
        },
        "/v1/regulator/refusals": {
            "get": _read(
                "Every refused charge request the gateway recorded (each broken rule of a request is a row)",
                _list_of(_REFUSAL),
                [
                    *(p for p in _FILTERS if p["name"] != "type"),
                    query("reason", {"type": "string"}, "comma-separated refusal codes, e.g. payment_method_invalid"),
                ],
            )
        },
        "/v1/regulator/violations": {
            "get": _read("Findings against offices, each with its evidence", _list_of(_VIOLATION), _FILTERS)
        },
        "/v1/regulator/voids": {
            "get": _read(
                "Every void of a completed charge, whatever became of it, by office and time",
                _list_of(_VOID),
                _VOID_FILTERS,
            )
        },
        "/v1/regulator/refunds": {
            "get": _read(
                "Every refund of a charge past its reversal window, whatever became of it, by office and time",
                _list_of(_REFUND),
                _VOID_FILTERS,
            )
        },
        "/v1/regulator/offices/{office_id}/scorecard": {
            "get": _read(
                "An office's negative indicators for a six-month Jalali period, and penalty suggestions",
                _SCORECARD,
                [
                    {"name": "office_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    query(
                        "period",
                        {"type": "string", "pattern": "^[0-9]{4}-H[12]$"},
                        "e.g. 1403-H1 (1 Farvardin to 31 Shahrivar); the current period unless given",
                    ),
                    query("format", {"enum": ["json", "csv"]}, "or send Accept: text/csv"),
                ],
            )
        },
    }
