"""Operations routes in the OpenAPI document: liveness, readiness, metrics and the document itself."""

from __future__ import annotations

from gateway.web.openapi.shapes import JSON_OBJECT, json_body, operation


def ops_paths() -> dict:
    return {
        "/healthz": {"get": operation("Liveness", {"200": json_body(JSON_OBJECT, "Alive")}, secured=False)},
        "/readyz": {
            "get": operation(
                "Readiness",
                {"200": json_body(JSON_OBJECT, "Ready"), "503": json_body(JSON_OBJECT, "Not ready")},
                secured=False,
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics",
                {"200": {"description": "Metrics in text format", "content": {"text/plain": {}}}},
                secured=False,
            )
        },
        "/openapi.json": {
            "get": operation("This document", {"200": json_body(JSON_OBJECT, "OpenAPI 3.1")}, secured=False)
        },
    }
