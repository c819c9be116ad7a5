"""The citizen's pages in the OpenAPI document: HTML for people (the receipt page, the tariff sheet and its poster,
the complaint form and status); a machine asking for them gets errors in the shared JSON shape."""

from __future__ import annotations

from gateway.web.openapi.shapes import errors, operation, param

_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
_FORM_FIELDS = {
    "type": "object",
    "properties": {
        "csrf_token": {"type": "string"},
        "tracking_code": {"type": "string"},
        "mobile": {"type": "string"},
        "code": {"type": "string"},
        "category": {"type": "string"},
        "text": {"type": "string"},
    },
}
_FORM = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": _FORM_FIELDS}}}


def _page(summary: str, *parameters: dict, more: dict | None = None) -> dict:
    return operation(
        summary,
        {"200": {"description": "The page", **_HTML}, **errors(404), **(more or {})},
        secured=False,
        parameters=list(parameters),
    )


def citizen_page_paths() -> dict:
    tracking = param("tracking_code", "path", {"type": "string"})
    office = param("office_id", "path", {"type": "string"})
    form_answers = {
        "400": {"description": "The form again, with what to correct", **_HTML},
        "403": {"$ref": "#/components/responses/Error"},
    }
    return {
        "/r/{tracking_code}": {"get": _page("A receipt by tracking code alone: exists, genuine or altered", tracking)},
        "/r/{tracking_code}/{secret}": {
            "get": _page(
                "The receipt page of the SMS link: genuine or altered, and the receipt's details",
                tracking,
                param("secret", "path", {"type": "string"}),
            )
        },
        "/q/{payload}": {
            "get": _page("The receipt page of the printed QR code", param("payload", "path", {"type": "string"}))
        },
        "/offices/{office_id}/tariffs": {"get": _page("The office's tariff sheet in force today", office)},
        "/offices/{office_id}/tariffs.pdf": {
            "get": operation(
                "The office's tariff sheet as an A4 poster",
                {"200": {"description": "PDF", "content": {"application/pdf": {}}}, **errors(404)},
                secured=False,
                parameters=[office],
            )
        },
        "/complaints/new": {
            "get": operation(
                "The complaint form",
                {"200": {"description": "The page", **_HTML}},
                secured=False,
                parameters=[param("tracking_code", "query", {"type": "string"})],
            )
        },
        "/complaints/new/code": {
            "post": operation(
                "Ask for the complaint code (form of /complaints/new)",
                {
                    "200": {"description": "The second step of the form", **_HTML},
                    "429": {"description": "The form again: too many codes asked for", **_HTML},
                    **form_answers,
                },
                secured=False,
                body=_FORM,
            )
        },
        "/complaints": {
            "post": operation(
                "File the complaint (second step of the form)",
                {"303": {"description": "To the complaint's status page"}, **form_answers},
                secured=False,
                body=_FORM,
            )
        },
        "/complaints/{number}": {
            "get": _page("A complaint's status page", param("number", "path", {"type": "string"}))
        },
    }
