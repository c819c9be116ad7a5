"""Integrity in the OpenAPI document: the approving bodies' keys of the signed tariff approvals, and the signed heads
of the regulator access log's chain."""

from __future__ import annotations

from gateway.web.openapi.shapes import json_body, operation

PUBLIC_KEY = {
    "type": "object",
    "required": ["key_id", "algorithm", "public_key", "valid_from", "valid_to"],
    "properties": {
        "key_id": {"type": "string"},
        "algorithm": {"const": "Ed25519"},
        "public_key": {"type": "string", "description": "raw 32-byte public key, unpadded base64url"},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_to": {"type": ["string", "null"], "format": "date-time"},
    },
}


def integrity_paths() -> dict:
    return {
        "/v1/tariffs/keys": {
            "get": operation(
                "The approving bodies' public keys that every tariff approval in force is signed with",
                {
                    "200": json_body(
                        {"type": "object", "properties": {"data": {"type": "array", "items": PUBLIC_KEY}}},
                        "Approver keys",
                    )
                },
                secured=False,
            )
        },
    }
