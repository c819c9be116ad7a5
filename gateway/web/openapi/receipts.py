"""Receipts in the OpenAPI document: the signed receipt, its printed forms, verification and the keys."""

from __future__ import annotations

from gateway.web.openapi.shapes import JSON_OBJECT, errors, json_body, operation, param

_TRACKING = param("tracking_code", "path", {"type": "string", "pattern": "^[0-9]{18}$"})
_IF_NONE_MATCH = param("If-None-Match", "header", {"type": "string"})
_PRINT = param(
    "print",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    description="the number of a recorded print (POST .../prints): print 2 and later carry the copy mark «رونوشت»",
)
_CACHING_HEADERS = {
    "ETag": {
        "required": True,
        "schema": {"type": "string"},
        "description": "Strong validator of this receipt in this form; send it back in If-None-Match",
    },
    "Cache-Control": {
        "required": True,
        "schema": {"type": "string"},
        "description": "private, max-age=31536000, immutable: a receipt never changes",
    },
}


def _printed_form(description: str, media_type: str) -> dict:
    return {
        "200": {"description": description, "headers": _CACHING_HEADERS, "content": {media_type: {}}},
        "304": {"description": "Not modified: the copy named in If-None-Match is current", "headers": _CACHING_HEADERS},
    }


def receipt_paths() -> dict:
    return {
        "/v1/receipts/{tracking_code}": {
            "get": operation(
                "The signed electronic receipt",
                {
                    "200": json_body(
                        {
                            "type": "object",
                            "required": ["receipt", "signature", "qr_url"],
                            "properties": {
                                "receipt": JSON_OBJECT,
                                "signature": {"type": "string"},
                                "qr_url": {
                                    "type": "string",
                                    "description": "What the printed QR code holds; beside the signed parts, "
                                    "not signed",
                                },
                            },
                        },
                        "Signed receipt and its QR URL",
                    ),
                    **errors(401, 403, 404),
                },
                parameters=[_TRACKING],
            )
        },
        "/v1/receipts/{tracking_code}.pdf": {
            "get": operation(
                "The printed receipt as a PDF (A5 or 80 mm roll)",
                {**_printed_form("PDF", "application/pdf"), **errors(400, 401, 403, 404)},
                parameters=[_TRACKING, param("size", "query", {"enum": ["a5", "80mm"]}), _PRINT, _IF_NONE_MATCH],
            )
        },
        "/v1/receipts/{tracking_code}.txt": {
            "get": operation(
                "The receipt for 48-column thermal printers, in UTF-8 or the Windows-1256 code page",
                {**_printed_form("Text in the charset asked for", "text/plain"), **errors(400, 401, 403, 404)},
                parameters=[
                    _TRACKING,
                    _PRINT,
                    param("charset", "query", {"enum": ["utf-8", "windows-1256"]}),
                    _IF_NONE_MATCH,
                ],
            )
        },
        "/v1/receipts/{tracking_code}/prints": {
            "post": operation(
                "Record a paper print: the first is the original, every later one a copy marked «رونوشت»",
                {
                    "201": json_body(JSON_OBJECT, "The recorded print, with the url of its paper"),
                    **errors(400, 401, 403, 404),
                },
                parameters=[_TRACKING],
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["form"],
                                "additionalProperties": False,
                                "properties": {"form": {"enum": ["a5", "80mm", "txt"]}},
                            }
                        }
                    },
                },
            ),
            "get": operation(
                "Every recorded print of the receipt: who, when, which form",
                {"200": json_body(JSON_OBJECT, "The prints, first to last"), **errors(401, 403, 404)},
                parameters=[_TRACKING],
            ),
        },
        "/v1/receipts/{tracking_code}/verify": {
            "get": operation(
                "Is this receipt genuine and unaltered, where it sits in its office's chain, which key signed it, "
                "and whether it was voided (or, for a cancellation receipt, which receipt it cancels)",
                {"200": json_body(JSON_OBJECT, "Verification"), **errors(404)},
                secured=False,
                parameters=[_TRACKING],
            ),
            "post": operation(
                "Check a presented copy: a scanned QR payload or a signed receipt",
                {"200": json_body(JSON_OBJECT, "Verification"), **errors(400, 404)},
                secured=False,
                parameters=[_TRACKING],
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "qr_payload": {
                                        "type": "string",
                                        "description": "The scanned QR: the receipt page URL or the bare PK1 payload",
                                    },
                                    "receipt": {"type": "object"},
                                },
                            }
                        }
                    },
                },
            ),
        },
        "/v1/keys": {
            "get": operation(
                "Receipt-signing public keys", {"200": json_body(JSON_OBJECT, "Public keys")}, secured=False
            )
        },
    }
