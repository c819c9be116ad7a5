"""The citizen's complaint pages: the form (tracking code and mobile, then the code sent by SMS, the category and
the text) and the status page of a complaint number. They call the same feature as /v1/complaints."""

from __future__ import annotations

from aiohttp import web

from gateway.complaints import inputs, rules
from gateway.complaints.store import get_complaint
from gateway.core.errors import ComplaintCodeInvalid, InvalidRequest, RateLimited
from gateway.web.context import services
from gateway.web.errors import not_found
from gateway.web.pages.rendering import checked_form, render

routes = web.RouteTableDef()


def _persian(error: Exception) -> str:
    """The Persian half of a "English / Persian" message."""
    message = getattr(error, "message", str(error))
    return message.split(" / ", 1)[-1]


def _form(request: web.Request, step: str, fields: dict, error: str | None = None, status: int = 200) -> web.Response:
    context = {
        "step": step,
        "fields": fields,
        "error": error,
        "categories": [(key, label) for key, (label, _) in rules.CATEGORIES.items()],
        "max_text": rules.MAX_TEXT,
    }
    return render(request, "complaint_form.html", context, status=status)


@routes.get("/complaints/new")
async def new_complaint(request: web.Request) -> web.Response:
    return _form(request, "ask", {"tracking_code": request.query.get("tracking_code", ""), "mobile": ""})


@routes.post("/complaints/new/code")
async def ask_for_code(request: web.Request) -> web.Response:
    form = await checked_form(request)
    try:
        tracking, mobile = inputs.tracking_code(form), inputs.mobile(form)
        svc = services(request)
        await svc.complaints.send_code(svc.state.registry, tracking, mobile, request.remote or "unknown", svc.clock())
    except (InvalidRequest, RateLimited) as error:
        return _form(request, "ask", form, _persian(error), status=400 if isinstance(error, InvalidRequest) else 429)
    return _form(request, "file", {"tracking_code": tracking, "mobile": mobile, "category": "", "text": ""})


@routes.post("/complaints")
async def file_complaint(request: web.Request) -> web.Response:
    form = await checked_form(request)
    try:
        tracking, mobile, code = inputs.tracking_code(form), inputs.mobile(form), inputs.code(form)
        category, text = inputs.category(form), inputs.body(form)
        svc = services(request)
        number = await svc.complaints.file(svc.state.registry, tracking, mobile, code, category, text, svc.clock())
    except (ComplaintCodeInvalid, InvalidRequest) as error:
        return _form(request, "file", form, _persian(error), status=400)
    raise web.HTTPSeeOther(f"/complaints/{number}")


@routes.get("/complaints/{number:[Cc]-[^/]+}")
async def complaint_status(request: web.Request) -> web.Response:
    row = await get_complaint(services(request).pool, request.match_info["number"].upper())
    if row is None:
        raise not_found("complaint")
    office = services(request).state.registry.offices.get(row["office_id"])
    return render(
        request,
        "complaint_status.html",
        {
            "complaint": row,
            "office_name": office.name if office else row["office_id"],
            "category": rules.CATEGORIES[row["category"]][0],
            "status": rules.STATUSES[row["status"]],
        },
    )
