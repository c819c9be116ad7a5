"""The OpenAPI description of the statement, import and reconciliation routes, merged into /openapi.json."""
from __future__ import annotations

_SECURED = [{"bearer": []}]
_ERROR = {"$ref": "#/components/responses/Error"}
_OBJECT = {"type": "object"}
_CSV = {"type": "string", "description": "CSV with a header line (docs/reconciliation.md)"}
_DATE = {"name": "date", "in": "query", "required": True,
         "description": "A calendar day in Asia/Tehran", "schema": {"type": "string", "format": "date"}}
_FORMAT = {"name": "format", "in": "query", "required": False, "description": "Overrides the Accept header",
           "schema": {"enum": ["json", "csv"]}}
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}


def _json_or_csv(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": _OBJECT}, "text/csv": {"schema": _CSV}}}


def _errors(*statuses: int) -> dict:
    return {str(status): _ERROR for status in statuses}


def reconciliation_paths() -> dict:
    """A fresh copy each call: the caller decorates the operations in place."""
    return {
        "/v1/agencies/{agency_id}/settlements": {"get": {
            "summary": "An agency's settlement statement for a day: every completed charge for its services, with "
                       "its share, payment identifier and the day's totals",
            "security": _SECURED,
            "parameters": [
                {"name": "agency_id", "in": "path", "required": True, "schema": {"type": "string"}}, _DATE, _FORMAT,
                {**_LIMIT, "description": "Page size (JSON default 100; CSV default: the whole day)"},
                {"name": "starting_after", "in": "query", "required": False,
                 "description": "The charge_id of the last row of the previous page", "schema": {"type": "string",
                                                                                                "format": "uuid"}}],
            "responses": {"200": _json_or_csv("The statement; CSV carries the totals in Pishkhan-Total-* headers"),
                          **_errors(400, 401, 403, 404)}}},
        "/v1/psps/{psp_id}/settlement-files": {"post": {
            "summary": "Import a PSP's daily settlement file or terminal transaction feed (streamed; idempotent)",
            "security": _SECURED,
            "parameters": [
                {"name": "psp_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "kind", "in": "query", "required": True, "schema": {"enum": ["settlement", "terminal_feed"]}}],
            "requestBody": {"required": True, "content": {"text/csv": {"schema": _CSV}}},
            "responses": {"201": {"description": "Imported", "content": {"application/json": {"schema": _OBJECT}}},
                          "200": {"description": "The same file was imported before; nothing changed",
                                  "content": {"application/json": {"schema": _OBJECT}}},
                          **_errors(400, 401, 403, 404, 422)}}},
        "/v1/reconciliation": {"get": {
            "summary": "Collected against settled for a day: every settlement row matched or classified, with "
                       "totals per PSP and per agency",
            "security": _SECURED,
            "parameters": [_DATE, _FORMAT,
                           {"name": "psp_id", "in": "query", "required": False, "schema": {"type": "string"}},
                           {**_LIMIT, "description": "How many unmatched rows the JSON lists (default 100)"}],
            "responses": {"200": _json_or_csv("The report (JSON) or every classified row (CSV)"),
                          **_errors(400, 401, 403, 404)}}},
    }
