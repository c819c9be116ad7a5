"""Integrity in the OpenAPI document: the approving bodies' keys of the signed tariff approvals, and the signed heads
of the regulator access log's chain."""

from __future__ import annotations

from gateway.web.openapi.shapes import errors, json_body, operation

SIGNED_HEAD = {
    "type": "object",
    "description": "Ed25519 signature (unpadded base64url) over the RFC 8785 form of the head without `signature`, by "
    "the receipt-signing key `key_id` (GET /v1/keys) valid at `signed_at`",
    "required": ["log", "seq", "hash", "signed_at", "key_id", "signature"],
    "properties": {
        "log": {"const": "regulator_access_log"},
        "seq": {"type": "integer", "description": "the last entry the head covers"},
        "hash": {"type": "string", "description": "that entry's hash (hex SHA-256)"},
        "signed_at": {"type": "string", "format": "date-time"},
        "key_id": {"type": "string"},
        "signature": {"type": "string"},
    },
}
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
        "/v1/regulator/access-log/heads": {
            "get": operation(
                "The access log's chain heads as signed by the gateway (daily and on demand), oldest first",
                {
                    "200": json_body(
                        {"type": "object", "properties": {"data": {"type": "array", "items": SIGNED_HEAD}}},
                        "Signed heads: keep them; `pishkhan oversight verify-access-log --heads` checks the chain",
                    ),
                    **errors(401, 403),
                },
            ),
            "post": operation(
                "Sign the access log's current head now",
                {"200": json_body(SIGNED_HEAD, "The signed head"), **errors(401, 403, 404)},
            ),
        },
    }
