"""Refunds in the OpenAPI document: returning a completed charge's fee through settlement after its PSP's reversal
window, and reading the refund."""

from __future__ import annotations

from gateway.web.openapi.shapes import errors, json_body, operation, param

_ROW = {
    "type": "object",
    "required": ["iban", "amount", "payment_id"],
    "properties": {
        "iban": {"type": "string"},
        "amount": {"type": "integer", "description": "Rials taken back from this account"},
        "payment_id": {"type": "string"},
    },
}
REFUND = {
    "type": "object",
    "required": ["id", "object", "charge_id", "status", "amount", "rows", "reason", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "object": {"const": "refund"},
        "charge_id": {"type": "string", "format": "uuid"},
        "status": {
            "enum": ["requested", "sent", "instructed", "settled", "failed"],
            "description": "requested/sent: under way; instructed: the PSP took the instruction and the cancellation "
            "receipt is issued, the money comes back in its settlement; settled: a PSP settlement file took every "
            "row back; failed: the PSP refused it",
        },
        "amount": {"type": "integer", "description": "Rials returned to the card: the charge's whole amount"},
        "currency": {"const": "IRR"},
        "rows": {"type": "array", "items": _ROW, "description": "The charge's split settlement rows, taken back"},
        "office_id": {"type": "string"},
        "psp_id": {"type": "string"},
        "reason": {"type": "string"},
        "reason_text": {"type": "string"},
        "response_code": {"type": ["string", "null"]},
        "rrn": {"type": ["string", "null"], "description": "The PSP's retrieval number of the refund"},
        "cancellation_tracking_code": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "instructed_at": {"type": ["string", "null"], "format": "date-time"},
        "settled_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def refund_paths() -> dict:
    charge_id = param("charge_id", "path", {"type": "string", "format": "uuid"})
    return {
        "/v1/charges/{charge_id}/refund": {
            "post": operation(
                "Refund a completed charge of the caller's office through settlement, once it can no longer be voided",
                {
                    "201": json_body(
                        {"$ref": "#/components/schemas/Refund"},
                        "Instructed at the PSP, with its signed cancellation receipt",
                    ),
                    "202": json_body(
                        {"$ref": "#/components/schemas/Refund"}, "Outcome not yet known; retry the same key"
                    ),
                    **errors(400, 401, 403, 404, 409, 413, 415, 422, 429),
                },
                parameters=[charge_id, param("Idempotency-Key", "header", {"type": "string", "maxLength": 255}, True)],
                body={
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VoidRequest"}}},
                },
            ),
            "get": operation(
                "The refund of a charge and its state",
                {"200": json_body({"$ref": "#/components/schemas/Refund"}, "The refund"), **errors(401, 403, 404)},
                parameters=[charge_id],
            ),
        },
    }
