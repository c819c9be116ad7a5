"""The OpenAPI 3.1 document of the public contract, assembled in one place from its parts. Request schemas come from
the same pydantic models that validate requests, so the two cannot drift; a test checks that every served route is
described here."""

from __future__ import annotations

from functools import cache

from gateway.web.openapi.charges import CHARGE, charge_paths
from gateway.web.openapi.complaints import complaint_paths
from gateway.web.openapi.edge import describe_edge
from gateway.web.openapi.integrity import integrity_paths
from gateway.web.openapi.ops import ops_paths
from gateway.web.openapi.receipts import receipt_paths
from gateway.web.openapi.refunds import REFUND, refund_paths
from gateway.web.openapi.regulator import regulator_paths
from gateway.web.openapi.settlements import settlement_paths
from gateway.web.openapi.shapes import json_body
from gateway.web.openapi.voids import VOID, void_paths
from gateway.web.schemas import ChargeRequest, VoidRequest

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message", "param", "details"],
            "properties": {
                "type": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "details": {"type": "object"},
                "decline_code": {"type": ["string", "null"]},
            },
        }
    },
}


@cache
def openapi_document() -> dict:
    charge_schema = ChargeRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = charge_schema.pop("$defs", {})
    void_schema = VoidRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions |= void_schema.pop("$defs", {})
    return describe_edge(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "Pishkhan Gateway",
                "version": "1.0.0",
                "description": "Fees at government service counter offices: tariff caps, card-only payment "
                "through licensed PSPs, signed receipts. Amounts are integer rials.",
            },
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": {
                    "ChargeRequest": charge_schema,
                    "Charge": CHARGE,
                    "VoidRequest": void_schema,
                    "Void": VOID,
                    "Refund": REFUND,
                    "Error": ERROR,
                    **definitions,
                },
                "responses": {
                    "Error": json_body({"$ref": "#/components/schemas/Error"}, "An error in the shared shape")
                },
            },
            "paths": {
                **charge_paths(),
                **void_paths(),
                **refund_paths(),
                **receipt_paths(),
                **ops_paths(),
                **settlement_paths(),
                **regulator_paths(),
                **integrity_paths(),
                **complaint_paths(),
            },
        }
    )
