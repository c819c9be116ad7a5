"""Voids in the OpenAPI document: undoing a completed charge by a PSP reversal, and reading the void."""

from __future__ import annotations

from gateway.web.openapi.shapes import errors, json_body, operation, param

VOID = {
    "type": "object",
    "required": ["id", "object", "charge_id", "status", "amount", "reason", "window_closes_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "object": {"const": "void"},
        "charge_id": {"type": "string", "format": "uuid"},
        "status": {
            "enum": ["requested", "sent", "reversed", "refused"],
            "description": "requested/sent: under way; reversed: the money went back to the card and the "
            "cancellation receipt is issued; refused: the PSP keeps the money, a refund is needed",
        },
        "amount": {"type": "integer", "description": "Rials returned to the card"},
        "currency": {"const": "IRR"},
        "office_id": {"type": "string"},
        "psp_id": {"type": "string"},
        "reason": {"type": "string"},
        "reason_text": {"type": "string"},
        "response_code": {"type": ["string", "null"]},
        "cancellation_tracking_code": {"type": ["string", "null"]},
        "window_closes_at": {"type": "string", "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "finalized_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def void_paths() -> dict:
    charge_id = param("charge_id", "path", {"type": "string", "format": "uuid"})
    return {
        "/v1/charges/{charge_id}/void": {
            "post": operation(
                "Void a completed charge of the caller's office within its PSP's reversal window",
                {
                    "201": json_body(
                        {"$ref": "#/components/schemas/Void"}, "Reversed, with its signed cancellation receipt"
                    ),
                    "202": json_body(
                        {"$ref": "#/components/schemas/Void"}, "Outcome not yet known; retry the same key"
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
                "The void of a charge and its state",
                {"200": json_body({"$ref": "#/components/schemas/Void"}, "The void"), **errors(401, 403, 404)},
                parameters=[charge_id],
            ),
        },
    }
