"""The building blocks every part of the OpenAPI document uses: operations, parameters, bodies and errors."""

from __future__ import annotations

from typing import Any

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
ERROR_RESPONSE = {"$ref": "#/components/responses/Error"}
JSON_OBJECT = {"type": "object"}
CSV_TEXT = {"type": "string", "description": "CSV with a header line"}
COUNT = {"type": "integer"}


def json_body(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_or_csv(schema: dict, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}, "text/csv": {"schema": CSV_TEXT}},
    }


def errors(*statuses: int) -> dict:
    return {str(status): ERROR_RESPONSE for status in statuses}


def operation(
    summary: str, responses: dict, *, secured: bool = True, parameters: list | None = None, body: dict | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if secured:
        op["security"] = BEARER
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = body
    return op


def param(name: str, where: str, schema: dict, required: bool = False, description: str | None = None) -> dict:
    described = {"description": description} if description else {}
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema, **described}


def query(name: str, schema: dict, description: str) -> dict:
    return param(name, "query", schema, description=description)


FORMAT = query("format", {"enum": ["json", "csv"]}, "csv: the whole list as CSV (or send Accept: text/csv)")


def list_of(item: dict, **extra_properties: Any) -> dict:
    return {
        "type": "object",
        "required": ["object", "data", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "has_more": {"type": "boolean"},
            **extra_properties,
        },
    }
