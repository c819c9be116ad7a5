"""Complaints in the OpenAPI document: the citizen's code and complaint, its status, the regulator's list and
decision, and an office's own list."""

from __future__ import annotations

from gateway.complaints.rules import CATEGORIES, MAX_NOTE, MAX_TEXT, STATUSES
from gateway.web.listing import MAX_PAGE
from gateway.web.openapi.shapes import FORMAT, errors, json_body, json_or_csv, list_of, operation, param, query

_NUMBER = param("number", "path", {"type": "string"}, description="the complaint number, for example C-7K3M-Q9PX-2D4F")
_TRACKING = {"type": "string", "description": "the receipt's 18-digit tracking code"}
_MOBILE = {"type": "string", "description": "the mobile the receipt was sent to, e.g. 09121234567"}
_PUBLIC_PROPERTIES: dict[str, dict] = {
    "object": {"const": "complaint"},
    "number": {"type": "string"},
    "office_id": {"type": "string"},
    "category": {"enum": list(CATEGORIES)},
    "status": {"enum": list(STATUSES)},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
}
_REQUIRED = ["object", "number", "office_id", "category", "status", "created_at", "updated_at"]
COMPLAINT = {"type": "object", "required": _REQUIRED, "properties": _PUBLIC_PROPERTIES}
FULL_COMPLAINT = {
    "type": "object",
    "required": _REQUIRED,
    "properties": {
        **_PUBLIC_PROPERTIES,
        "tracking_code": {"type": "string"},
        "text": {"type": "string", "description": "as the citizen typed it: show it escaped"},
        "note": {"type": ["string", "null"]},
    },
}
_LIST_FILTERS = [
    query("from", {"type": "string"}, "inclusive: an RFC 3339 instant, or a Tehran day"),
    query("to", {"type": "string"}, "exclusive: an RFC 3339 instant, or a Tehran day (included whole)"),
    query("category", {"enum": list(CATEGORIES)}, "one category"),
    query("status", {"enum": list(STATUSES)}, "one status"),
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "page size, 50 unless given"),
    query("cursor", {"type": "string"}, "the next_cursor of the previous page"),
    FORMAT,
]
_LIST = list_of(FULL_COMPLAINT, next_cursor={"type": ["string", "null"]})


def _body(properties: dict, required: list[str]) -> dict:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def complaint_paths() -> dict:
    return {
        "/v1/complaints/otp": {
            "post": operation(
                "Send a one-time code by SMS to the mobile the receipt was sent to (the answer is the same either "
                "way, so it never tells whether the tracking code or the mobile was wrong)",
                {
                    "202": json_body({"type": "object"}, "A code was sent if the receipt went to this mobile"),
                    **errors(400, 429),
                },
                secured=False,
                body=_body({"tracking_code": _TRACKING, "mobile": _MOBILE}, ["tracking_code", "mobile"]),
            )
        },
        "/v1/complaints": {
            "post": operation(
                "File a complaint about the office of a receipt, with the code sent by SMS",
                {"201": json_body(COMPLAINT, "The complaint, with its number"), **errors(400)},
                secured=False,
                body=_body(
                    {
                        "tracking_code": _TRACKING,
                        "mobile": _MOBILE,
                        "code": {"type": "string", "description": "the 6-digit code sent by SMS"},
                        "category": {"enum": list(CATEGORIES)},
                        "text": {"type": "string", "maxLength": MAX_TEXT},
                    },
                    ["tracking_code", "mobile", "code", "category", "text"],
                ),
            )
        },
        "/v1/complaints/{number}": {
            "get": operation(
                "A complaint's status by its number (no text, no mobile)",
                {"200": json_body(COMPLAINT, "The complaint"), **errors(404)},
                secured=False,
                parameters=[_NUMBER],
            )
        },
        "/v1/regulator/complaints": {
            "get": operation(
                "Complaints, newest first, with their text",
                {"200": json_or_csv(_LIST, "A page of complaints, or all as CSV"), **errors(400, 401, 403)},
                parameters=[
                    query("office_id", {"type": "string", "pattern": "^[0-9]{8}$"}, "one office"),
                    query("province", {"type": "string"}, "the offices of one province"),
                    *_LIST_FILTERS,
                ],
            )
        },
        "/v1/regulator/complaints/{number}": {
            "patch": operation(
                "Move a complaint (under_review, upheld, rejected) with a note; the citizen is told by SMS, and an "
                "upheld excess-fee or cash complaint becomes a finding against the office",
                {"200": json_body(FULL_COMPLAINT, "The complaint"), **errors(400, 401, 403, 404)},
                parameters=[_NUMBER],
                body=_body(
                    {"status": {"enum": list(STATUSES)}, "note": {"type": "string", "maxLength": MAX_NOTE}},
                    ["status"],
                ),
            )
        },
        "/v1/offices/{office_id}/complaints": {
            "get": operation(
                "An office's own complaints (read-only: a terminal key of the office, the regulator, admin)",
                {"200": json_or_csv(_LIST, "A page of complaints, or all as CSV"), **errors(400, 401, 403, 404)},
                parameters=[param("office_id", "path", {"type": "string"}), *_LIST_FILTERS],
            )
        },
    }
