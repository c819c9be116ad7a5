"""The OpenAPI 3.1 document of the public contract. Request schemas come from the same pydantic models that
validate requests, so the two cannot drift; a test checks that every served route is described here."""
from __future__ import annotations

from functools import cache

from gateway.http.edge_spec import describe_edge
from gateway.http.schemas import ChargeRequest
from gateway.http.routes_regulator import regulator_paths
from gateway.reconciliation.api_spec import reconciliation_paths

ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["type", "code", "message", "param", "details"],
        "properties": {"type": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"},
                       "param": {"type": ["string", "null"]}, "details": {"type": "object"},
                       "decline_code": {"type": ["string", "null"]}}}},
}
CHARGE = {
    "type": "object",
    "required": ["id", "object", "status", "amount", "office_id", "terminal_id", "service_code", "breakdown"],
    "properties": {
        "id": {"type": "string", "format": "uuid"}, "object": {"const": "charge"},
        "status": {"enum": ["created", "sent", "authorized", "verified", "completed", "declined", "cancelled",
                            "expired", "reversed", "failed"]},
        "amount": {"type": "integer"}, "currency": {"const": "IRR"}, "office_id": {"type": "string"},
        "terminal_id": {"type": "string"}, "operator_id": {"type": "string"}, "service_code": {"type": "string"},
        "quantity": {"type": "integer"}, "extras": {"type": "array"}, "breakdown": {"type": "object"},
        "tariff_reference": {"type": "string"}, "settlement_rows": {"type": "array"},
        "psp_id": {"type": "string"}, "rrn": {"type": ["string", "null"]}, "stan": {"type": ["string", "null"]},
        "masked_pan": {"type": ["string", "null"]}, "decline_code": {"type": ["string", "null"]},
        "tracking_code": {"type": ["string", "null"]}, "created_at": {"type": ["string", "null"]},
        "completed_at": {"type": ["string", "null"]}, "receipt": {"type": ["object", "null"]},
        "messages": {"type": "array", "description": "GET only: the SMS and Iran Poosheh messages of a completed "
                     "charge with their delivery states (recipients masked)", "items": {
                         "type": "object",
                         "required": ["channel", "message_id", "recipient", "status", "attempts", "delivery_status"],
                         "properties": {
                             "channel": {"enum": ["sms", "poosheh"]}, "message_id": {"type": "string"},
                             "recipient": {"type": "string"},
                             "status": {"enum": ["pending", "sent", "delivered", "undelivered", "failed", "dead"]},
                             "attempts": {"type": "integer"}, "last_error": {"type": ["string", "null"]},
                             "provider_message_id": {"type": ["string", "null"]},
                             "sent_at": {"type": ["string", "null"]},
                             "delivery_status": {"enum": ["queued", "sent", "delivered", "undelivered", "failed",
                                                          None]},
                             "delivery_status_at": {"type": ["string", "null"]}}}}},
}
_BEARER = [{"bearer": []}]
_JSON_OBJECT = {"type": "object"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(status): {"$ref": "#/components/responses/Error"} for status in statuses}


def _op(summary: str, responses: dict, *, secured: bool = True, parameters: list | None = None,
        body: dict | None = None) -> dict:
    operation = {"summary": summary, "responses": responses}
    if secured:
        operation["security"] = _BEARER
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    return operation


def _param(name: str, where: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema}


_TRACKING = _param("tracking_code", "path", {"type": "string", "pattern": "^[0-9]{18}$"})
_IF_NONE_MATCH = _param("If-None-Match", "header", {"type": "string"})
_CACHING_HEADERS = {
    "ETag": {"required": True, "schema": {"type": "string"},
             "description": "Strong validator of this receipt in this form; send it back in If-None-Match"},
    "Cache-Control": {"required": True, "schema": {"type": "string"},
                      "description": "private, max-age=31536000, immutable: a receipt never changes"},
}


def _printed_form(description: str, media_type: str) -> dict:
    return {"200": {"description": description, "headers": _CACHING_HEADERS, "content": {media_type: {}}},
            "304": {"description": "Not modified: the copy named in If-None-Match is current",
                    "headers": _CACHING_HEADERS}}


@cache
def openapi_document() -> dict:
    return describe_edge(_contract())


def _contract() -> dict:
    charge_schema = ChargeRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = charge_schema.pop("$defs", {})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pishkhan Gateway", "version": "1.0.0",
                 "description": "Fees at government service counter offices: tariff caps, card-only payment "
                                "through licensed PSPs, signed receipts. Amounts are integer rials."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"ChargeRequest": charge_schema, "Charge": CHARGE, "Error": ERROR, **definitions},
            "responses": {"Error": _json({"$ref": "#/components/schemas/Error"}, "An error in the shared shape")},
        },
        "paths": {
            "/v1/charges": {"post": _op(
                "Collect a fee on the caller's terminal",
                {"201": _json({"$ref": "#/components/schemas/Charge"}, "Completed, with its signed receipt"),
                 "202": _json({"$ref": "#/components/schemas/Charge"}, "Outcome not yet known; retry the same key"),
                 **_errors(400, 401, 402, 403, 409, 413, 415, 422, 429, 502)},
                parameters=[_param("Idempotency-Key", "header", {"type": "string", "maxLength": 255}, True)],
                body={"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ChargeRequest"}}}})},
            "/v1/charges/{charge_id}": {"get": _op(
                "A charge and its state",
                {"200": _json({"$ref": "#/components/schemas/Charge"}, "The charge"), **_errors(401, 403, 404)},
                parameters=[_param("charge_id", "path", {"type": "string"})])},
            "/v1/tariffs": {"get": _op(
                "Tariff tables in force now or at a past moment",
                {"200": _json(_JSON_OBJECT, "Tables in force"), **_errors(400)}, secured=False,
                parameters=[_param("at", "query", {"type": "string", "format": "date-time"})])},
            "/v1/tariffs/quote": {"get": _op(
                "The cap for a service now, with its breakdown",
                {"200": _json(_JSON_OBJECT, "The quote"), **_errors(400, 401, 403, 422)},
                parameters=[_param("service_code", "query", {"type": "string"}, True),
                            _param("quantity", "query", {"type": "integer", "minimum": 1, "maximum": 1000})])},
            "/v1/receipts/{tracking_code}": {"get": _op(
                "The signed electronic receipt", {"200": _json(_JSON_OBJECT, "Signed receipt"),
                                                  **_errors(401, 403, 404)}, parameters=[_TRACKING])},
            "/v1/receipts/{tracking_code}.pdf": {"get": _op(
                "The printed receipt as a PDF (A5 or 80 mm roll)",
                {**_printed_form("PDF", "application/pdf"), **_errors(400, 401, 403, 404)},
                parameters=[_TRACKING, _param("size", "query", {"enum": ["a5", "80mm"]}), _IF_NONE_MATCH])},
            "/v1/receipts/{tracking_code}.txt": {"get": _op(
                "The receipt for 48-column thermal printers",
                {**_printed_form("UTF-8 text", "text/plain"), **_errors(401, 403, 404)},
                parameters=[_TRACKING, _IF_NONE_MATCH])},
            "/v1/receipts/{tracking_code}/verify": {
                "get": _op("Is this receipt genuine and unaltered, where it sits in its office's chain, which key "
                           "signed it", {"200": _json(_JSON_OBJECT, "Verification"), **_errors(404)},
                           secured=False, parameters=[_TRACKING]),
                "post": _op("Check a presented copy: a scanned QR payload or a signed receipt",
                            {"200": _json(_JSON_OBJECT, "Verification"), **_errors(400, 404)}, secured=False,
                            parameters=[_TRACKING], body={"required": True, "content": {"application/json": {
                                "schema": {"type": "object", "properties": {
                                    "qr_payload": {"type": "string"}, "receipt": {"type": "object"}}}}}})},
            "/v1/keys": {"get": _op("Receipt-signing public keys", {"200": _json(_JSON_OBJECT, "Public keys")},
                                    secured=False)},
            "/healthz": {"get": _op("Liveness", {"200": _json(_JSON_OBJECT, "Alive")}, secured=False)},
            "/readyz": {"get": _op("Readiness", {"200": _json(_JSON_OBJECT, "Ready"),
                                                 "503": _json(_JSON_OBJECT, "Not ready")}, secured=False)},
            "/metrics": {"get": _op("Prometheus metrics", {"200": {"description": "Metrics in text format",
                                                                   "content": {"text/plain": {}}}}, secured=False)},
            "/openapi.json": {"get": _op("This document", {"200": _json(_JSON_OBJECT, "OpenAPI 3.1")},
                                         secured=False)},
            **reconciliation_paths(),
            **regulator_paths(),
        },
    }
