"""Agency statements, PSP file imports and the reconciliation report in the OpenAPI document."""

from __future__ import annotations

from gateway.web.openapi.shapes import BEARER, CSV_TEXT, JSON_OBJECT, errors, json_or_csv

_DATE = {
    "name": "date",
    "in": "query",
    "required": True,
    "description": "A calendar day in Asia/Tehran",
    "schema": {"type": "string", "format": "date"},
}
_FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "Overrides the Accept header",
    "schema": {"enum": ["json", "csv"]},
}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
}


def settlement_paths() -> dict:
    return {
        "/v1/agencies/{agency_id}/settlements": {
            "get": {
                "summary": "An agency's settlement statement for a day: every completed charge for its services, with "
                "its share, payment identifier and the day's totals",
                "security": BEARER,
                "parameters": [
                    {"name": "agency_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    _DATE,
                    _FORMAT,
                    {**_LIMIT, "description": "Page size (JSON default 100; CSV default: the whole day)"},
                    {
                        "name": "starting_after",
                        "in": "query",
                        "required": False,
                        "description": "The charge_id of the last row of the previous page",
                        "schema": {"type": "string", "format": "uuid"},
                    },
                ],
                "responses": {
                    "200": json_or_csv(
                        JSON_OBJECT, "The statement; CSV carries the totals in Pishkhan-Total-* headers"
                    ),
                    **errors(400, 401, 403, 404),
                },
            }
        },
        "/v1/psps/{psp_id}/settlement-files": {
            "post": {
                "summary": "Import a PSP's daily settlement file or terminal transaction feed (streamed; idempotent)",
                "security": BEARER,
                "parameters": [
                    {"name": "psp_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "kind",
                        "in": "query",
                        "required": True,
                        "schema": {"enum": ["settlement", "terminal_feed"]},
                    },
                ],
                "requestBody": {"required": True, "content": {"text/csv": {"schema": CSV_TEXT}}},
                "responses": {
                    "201": {"description": "Imported", "content": {"application/json": {"schema": JSON_OBJECT}}},
                    "200": {
                        "description": "The same file was imported before; nothing changed",
                        "content": {"application/json": {"schema": JSON_OBJECT}},
                    },
                    **errors(400, 401, 403, 404, 422),
                },
            }
        },
        "/v1/reconciliation": {
            "get": {
                "summary": "Collected against settled for a day: every settlement row matched or classified, with "
                "totals per PSP and per agency",
                "security": BEARER,
                "parameters": [
                    _DATE,
                    _FORMAT,
                    {"name": "psp_id", "in": "query", "required": False, "schema": {"type": "string"}},
                    {**_LIMIT, "description": "How many unmatched rows the JSON lists (default 100)"},
                ],
                "responses": {
                    "200": json_or_csv(JSON_OBJECT, "The report (JSON) or every classified row (CSV)"),
                    **errors(400, 401, 403, 404),
                },
            }
        },
    }
