"""What the edge defences add to every operation of the OpenAPI document: the signed-request scheme beside the
bearer key, 401, 429 (with Retry-After) and 503 (signed requests while the nonce store is unreachable) on every
secured operation; on every operation 400 (a header or URL that is not UTF-8 text) and 503 (PostgreSQL or Redis
unreachable), 429 on the public ones too (limited per client address); and 413/415/408 wherever a body is taken."""

from __future__ import annotations

from gateway.web.openapi.shapes import ERROR_RESPONSE
from gateway.web.request_signing import MAX_SKEW_SECONDS, NONCE_HEADER, SCHEME, SIGNATURE_HEADER, TIMESTAMP_HEADER

_SIGNED = {
    "type": "http",
    "scheme": SCHEME,
    "description": f"`Authorization: {SCHEME} <key id>` with {TIMESTAMP_HEADER} (Unix seconds, within "
    f"{MAX_SKEW_SECONDS} s of the gateway's clock), {NONCE_HEADER} (once only) and {SIGNATURE_HEADER}: "
    "hex HMAC-SHA256, keyed with SHA-256 of the key's secret, over the lines "
    f"'{SCHEME}', method, path with query, timestamp, nonce and the hex SHA-256 of the body. "
    "Required for keys issued with --require-signature, which never send their secret.",
}
_MONITORING = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})  # never rate-limited
_RATE_LIMITED = {
    "description": "Too many requests for this key, terminal or client address; retry after the given seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def describe_edge(document: dict) -> dict:
    components = document["components"]
    components["securitySchemes"]["signed"] = _SIGNED
    components["responses"]["RateLimited"] = _RATE_LIMITED
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            responses.setdefault("400", ERROR_RESPONSE)
            responses.setdefault("503", ERROR_RESPONSE)
            if path not in _MONITORING:
                responses.setdefault("429", {"$ref": "#/components/responses/RateLimited"})
            if operation.get("security"):
                operation["security"] = [*operation["security"], {"signed": []}]
                responses.setdefault("401", ERROR_RESPONSE)
                responses["429"] = {"$ref": "#/components/responses/RateLimited"}
                responses.setdefault("503", ERROR_RESPONSE)
            if "requestBody" in operation:
                responses.setdefault("413", ERROR_RESPONSE)
                responses.setdefault("415", ERROR_RESPONSE)
                responses.setdefault("408", ERROR_RESPONSE)
    return document
