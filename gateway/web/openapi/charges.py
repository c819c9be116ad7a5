"""The charge path in the OpenAPI document: collecting a fee, reading a charge, tariffs and quotes."""

from __future__ import annotations

from gateway.web.openapi.shapes import JSON_OBJECT, errors, json_body, operation, param

_EXTRA = "[a-z][a-z0-9_]{0,39}:[0-9]{1,4}"
CHARGE = {
    "type": "object",
    "required": ["id", "object", "status", "amount", "office_id", "terminal_id", "service_code", "breakdown"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "object": {"const": "charge"},
        "status": {
            "enum": [
                "created",
                "sent",
                "authorized",
                "verified",
                "completed",
                "declined",
                "cancelled",
                "expired",
                "reversed",
                "failed",
            ]
        },
        "amount": {"type": "integer"},
        "currency": {"const": "IRR"},
        "office_id": {"type": "string"},
        "terminal_id": {"type": "string"},
        "operator_id": {"type": "string"},
        "service_code": {"type": "string"},
        "quantity": {"type": "integer"},
        "extras": {"type": "array"},
        "breakdown": {"type": "object"},
        "tariff_reference": {"type": "string"},
        "settlement_rows": {"type": "array"},
        "psp_id": {"type": "string"},
        "rrn": {"type": ["string", "null"]},
        "stan": {"type": ["string", "null"]},
        "masked_pan": {"type": ["string", "null"]},
        "decline_code": {"type": ["string", "null"]},
        "tracking_code": {"type": ["string", "null"]},
        "created_at": {"type": ["string", "null"]},
        "completed_at": {"type": ["string", "null"]},
        "receipt": {"type": ["object", "null"]},
        "identity": {
            "type": ["object", "null"],
            "description": "The identity inquiry made before the card was pushed (docs/identity.md): the service's "
            "policy, the verdict, each service's verdict and track id, and when; null when the policy is off",
            "required": ["policy", "verdict", "results", "checked_at"],
            "properties": {
                "policy": {"enum": ["required", "advisory"]},
                "verdict": {"enum": ["matched", "mismatched", "unavailable"]},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["service", "verdict", "track_id", "reason"],
                        "properties": {
                            "service": {"enum": ["civil_registry", "shahkar"]},
                            "verdict": {"enum": ["matched", "mismatched", "unavailable"]},
                            "track_id": {"type": ["string", "null"]},
                            "reason": {"type": ["string", "null"]},
                        },
                    },
                },
                "checked_at": {"type": "string"},
            },
        },
        "qr_url": {
            "type": "string",
            "description": "What the printed receipt's QR code holds (the receipt page on the gateway); not signed. "
            "Present once the receipt is issued.",
        },
        "messages": {
            "type": "array",
            "description": "GET only: the SMS and Iran Poosheh messages of a completed "
            "charge with their delivery states (recipients masked)",
            "items": {
                "type": "object",
                "required": ["channel", "message_id", "recipient", "status", "attempts", "delivery_status"],
                "properties": {
                    "channel": {"enum": ["sms", "poosheh"]},
                    "message_id": {"type": "string"},
                    "recipient": {"type": "string"},
                    "status": {"enum": ["pending", "sent", "delivered", "undelivered", "failed", "dead"]},
                    "attempts": {"type": "integer"},
                    "last_error": {"type": ["string", "null"]},
                    "provider_message_id": {"type": ["string", "null"]},
                    "sent_at": {"type": ["string", "null"]},
                    "delivery_status": {"enum": ["queued", "sent", "delivered", "undelivered", "failed", None]},
                    "delivery_status_at": {"type": ["string", "null"]},
                },
            },
        },
    },
}


def charge_paths() -> dict:
    return {
        "/v1/charges": {
            "post": operation(
                "Collect a fee on the caller's terminal",
                {
                    "201": json_body({"$ref": "#/components/schemas/Charge"}, "Completed, with its signed receipt"),
                    "202": json_body(
                        {"$ref": "#/components/schemas/Charge"}, "Outcome not yet known; retry the same key"
                    ),
                    **errors(400, 401, 402, 403, 409, 413, 415, 422, 429, 502, 503),
                },
                parameters=[param("Idempotency-Key", "header", {"type": "string", "maxLength": 255}, True)],
                body={
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChargeRequest"}}},
                },
            )
        },
        "/v1/charges/{charge_id}": {
            "get": operation(
                "A charge and its state",
                {"200": json_body({"$ref": "#/components/schemas/Charge"}, "The charge"), **errors(401, 403, 404)},
                parameters=[param("charge_id", "path", {"type": "string"})],
            )
        },
        "/v1/tariffs": {
            "get": operation(
                "Tariff tables in force now or at a past moment",
                {
                    "200": json_body(
                        JSON_OBJECT,
                        "Tables in force; each carries `signed_approval`: the approval document exactly as signed, "
                        "with `algorithm`, `key_id` and `signature` (check it with the keys of /v1/tariffs/keys)",
                    ),
                    **errors(400),
                },
                secured=False,
                parameters=[param("at", "query", {"type": "string", "format": "date-time"})],
            )
        },
        "/v1/tariffs/quote": {
            "get": operation(
                "The cap for a service, quantity and extras now, with its breakdown and the extras the service offers",
                {"200": json_body(JSON_OBJECT, "The quote"), **errors(400, 401, 403, 422)},
                parameters=[
                    param("service_code", "query", {"type": "string"}, True),
                    param("quantity", "query", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    param(
                        "extras",
                        "query",
                        {
                            "type": "string",
                            "pattern": "^([a-z][a-z0-9_]{0,39}:[0-9]{1,4})(,[a-z][a-z0-9_]{0,39}:[0-9]{1,4}){0,19}$",
                        },
                        description="priced extras as code:quantity, comma-separated (e.g. scan_page:3,photo:1)",
                    ),
                ],
            )
        },
    }
